"""Start Stagedesk on one machine and stop all of it with Ctrl+C (run by scripts/run).

1. a private redis-server (app/embedded_redis.py, data in $STAGEDESK_INSTANCE/redis),
   unless REDIS_URL is set;
2. ``flask --app app db upgrade`` and ``flask --app app demo`` (prints the demo logins);
3. ``flask --app app worker`` (RQ worker with the scheduler) and gunicorn, in the background;
4. waits; on SIGINT/SIGTERM/SIGHUP, or when a child dies, stops the web server, then the
   worker (a warm shutdown lets a running job finish), then Redis. A second Ctrl+C kills
   at once. On Linux the children also die with this launcher (PR_SET_PDEATHSIG).

Environment: STAGEDESK_INSTANCE (set by scripts/run), REDIS_URL, PORT (5000),
STAGEDESK_REDIS_PORT (6390; a free port if that one is taken), and whatever the app reads.
"""
from __future__ import annotations

import fcntl
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_embedded_redis():
    """app/embedded_redis.py by path: the launcher must not import the whole app package
    (a broken app should fail in `flask db upgrade`, with the app's own error)."""
    spec = importlib.util.spec_from_file_location("stagedesk_embedded_redis",
                                                  ROOT / "app" / "embedded_redis.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_er = _load_embedded_redis()
EmbeddedRedis, EmbeddedRedisError = _er.EmbeddedRedis, _er.EmbeddedRedisError
_die_with_parent, port_is_free, start_redis = _er._die_with_parent, _er.port_is_free, _er.start_redis

BIN = Path(sys.executable).parent  # the launcher runs with .venv/bin/python
FLASK = [str(BIN / "flask"), "--app", "app"]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(Exception):
    """A stop signal arrived."""


class LaunchError(Exception):
    """Something failed: the message says what, and what to do."""


def gunicorn_extra_args() -> list[str]:
    """Gunicorn 24+ opens a control socket at ~/.gunicorn/gunicorn.ctl, shared by every
    gunicorn of the user: a second instance would fight over it. We need none."""
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return []
    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def emit(text: str, stream=None) -> None:
    """Print, ignoring a closed stdout (`scripts/run | tee log` and Ctrl+C kills tee too):
    stopping the children matters more than telling about it."""
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except (OSError, ValueError):
        pass


def say(message: str = "") -> None:
    emit(f"run: {message}" if message else "")


class Launcher:
    def __init__(self) -> None:
        self.instance = Path(os.environ.get("STAGEDESK_INSTANCE", ROOT / "instance")).resolve()
        self.port = int(os.environ.get("PORT", "5000"))
        self.env = dict(os.environ, STAGEDESK_INSTANCE=str(self.instance), PYTHONUNBUFFERED="1",
                        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.redis: EmbeddedRedis | None = None
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.force = False
        self.lock_file = None

    # --- signals ---------------------------------------------------------------------
    def _on_signal(self, signum, frame):
        raise Stop(signal.Signals(signum).name)

    def _on_signal_while_stopping(self, signum, frame):
        if not self.force:
            say("second signal: killing what is left")
        self.force = True

    # --- steps -----------------------------------------------------------------------
    def lock_instance(self) -> None:
        self.instance.mkdir(parents=True, exist_ok=True)
        self.lock_file = open(self.instance / ".run.lock", "a+")
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LaunchError(f"another scripts/run is already using {self.instance}: stop it first, "
                              "or set STAGEDESK_INSTANCE to another folder") from None

    def start_redis(self) -> str:
        url = os.environ.get("REDIS_URL")
        if url:
            import redis
            client = redis.Redis.from_url(url, socket_connect_timeout=3)
            try:
                client.ping()
            except redis.RedisError as exc:
                raise LaunchError(f"REDIS_URL={url} does not answer ({exc}): start that Redis, "
                                  "or unset REDIS_URL to use a private redis-server") from None
            finally:
                client.close()
            say(f"using REDIS_URL={url}")
            return url
        directory = self.instance / "redis"
        port = int(os.environ.get("STAGEDESK_REDIS_PORT", "6390"))
        try:
            self.redis = start_redis(directory, port)
        except EmbeddedRedisError as exc:
            if "in use" not in str(exc):
                raise LaunchError(str(exc)) from None
            say(f"port {port} is taken: the private redis-server gets a free port instead")
            try:
                self.redis = start_redis(directory, None)
            except EmbeddedRedisError as exc2:
                raise LaunchError(str(exc2)) from None
        say(f"private redis-server on {self.redis.url} (data in {directory})")
        return self.redis.url

    def flask(self, *args: str, capture: bool = False) -> str:
        """Run a flask command in the foreground; LaunchError if it fails."""
        cmd = FLASK + list(args)
        result = subprocess.run(cmd, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE if capture else None, text=True)
        output = result.stdout or ""
        if capture and output:
            emit(output.rstrip("\n"))
        if result.returncode != 0:
            raise LaunchError(f"`flask --app app {' '.join(args)}` failed with exit code "
                              f"{result.returncode} (see its output above)")
        return output

    def spawn(self, name: str, cmd: list[str]) -> None:
        process = subprocess.Popen(
            cmd, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl+C reaches only us: we stop children in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        self.children.append((name, process))

    def check_children(self) -> None:
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                raise LaunchError(f"the {name} exited unexpectedly with code {code}: stopping everything")

    def wait_for_web(self, timeout: float = 60.0) -> None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_children()
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError as exc:  # any HTTP answer means it is up
                exc.close()
                return
            except OSError:
                time.sleep(0.3)
        raise LaunchError(f"the web server did not answer on {url} within {timeout:.0f} s")

    # --- shutdown --------------------------------------------------------------------
    def _stop_process(self, name: str, process: subprocess.Popen, grace: float) -> None:
        if process.poll() is None:
            say(f"stopping the {name} (pid {process.pid})")
            try:
                process.terminate()
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while process.poll() is None and time.monotonic() < deadline and not self.force:
                time.sleep(0.1)
        try:  # whatever is left of its process group (gunicorn workers, RQ work horses)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()

    def shutdown(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal_while_stopping)
        graces = {"web server": 15.0, "worker": 30.0}
        for name, process in reversed(self.children):  # web first, then the worker
            self._stop_process(name, process, graces.get(name, 10.0))
        if self.redis is not None:
            say("stopping the private redis-server")
            self.redis.stop(timeout=1.0 if self.force else 10.0)
        if self.lock_file is not None:
            self.lock_file.close()

    # --- main ------------------------------------------------------------------------
    def run(self) -> int:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        code = 0
        try:
            for tool in ("flask", "gunicorn"):
                if not (BIN / tool).exists():
                    raise LaunchError(f"{BIN / tool} is missing: run scripts/setup")
            self.lock_instance()
            if not port_is_free(self.port):
                raise LaunchError(f"port {self.port} is in use: choose another one, "
                                  f"e.g. PORT={self.port + 1} ./scripts/run")
            self.env["REDIS_URL"] = self.start_redis()
            say("migrating the database (flask --app app db upgrade)")
            self.flask("db", "upgrade")
            say("loading the demo data (flask --app app demo)")
            demo = self.flask("demo", capture=True)
            self.spawn("worker", FLASK + ["worker"])
            self.spawn("web server", [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{self.port}",
                                      "-w", "2", "--threads", "4", *gunicorn_extra_args(),
                                      "app:create_app()"])
            self.wait_for_web()
            self.banner(demo)
            while True:
                self.check_children()
                time.sleep(0.5)
        except Stop as stop:
            emit("")
            say(f"{stop}: stopping")
        except (LaunchError, EmbeddedRedisError) as exc:
            emit(f"run: ERROR: {exc}", sys.stderr)
            code = 1
        finally:
            self.shutdown()
        say("stopped")
        return code

    def banner(self, demo: str) -> None:
        database = self.env.get("DATABASE_URL") or f"sqlite:///{self.instance / 'stagedesk.db'}"
        redis = self.env["REDIS_URL"] + (" (private redis-server)" if self.redis else "")
        lines = [
            "",
            "=" * 72,
            f"Stagedesk is running: http://127.0.0.1:{self.port}/",
            f"  API:       http://127.0.0.1:{self.port}/api/v1/docs",
            f"  database:  {database}",
            f"  redis:     {redis}",
            f"  instance:  {self.instance}",
        ]
        demo_lines = demo.strip().splitlines()
        start = next((i for i, line in enumerate(demo_lines) if "password" in line.lower()), 0)
        if demo_lines:
            lines += ["", "Demo logins (printed by `flask --app app demo`):"]
            lines += ["  " + line for line in demo_lines[start:]]
        lines += ["", "Press Ctrl+C to stop the web server, the worker and Redis.", "=" * 72, ""]
        emit("\n".join(lines))


if __name__ == "__main__":
    sys.exit(Launcher().run())
