"""Start daphne or gunicorn on the benchmark database, wait until it answers, stop it after."""

import itertools
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOGS = ROOT / "bench" / "results" / "scratch"
PORT_BASE = int(os.environ.get("BENCH_PORT", "18600"))


def database_url() -> str:
    """The URL of the database this process uses (the bench one, or the test one under pytest)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def gunicorn_workers() -> int:
    return 2 * (os.cpu_count() or 1)


def daphne_workers() -> int:
    return os.cpu_count() or 1


class Server:
    """A server process of our own; `kind` is daphne or gunicorn."""

    def __init__(self, kind: str, port: int):
        self.kind, self.port = kind, port
        self.process: subprocess.Popen | None = None
        self.log = None

    @property
    def label(self) -> str:
        if self.kind == "gunicorn":
            return f"gunicorn (WSGI, {gunicorn_workers()} sync workers)"
        if self.kind == "daphne-workers":
            return f"daphne (ASGI, {daphne_workers()} processes: python -m tasktrack.serve)"
        return "daphne (ASGI, one process)"

    def command(self) -> list[str]:
        if self.kind == "daphne":
            return [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "tasktrack.asgi:application"]
        if self.kind == "daphne-workers":
            return [
                str(BIN / "python"),
                "-m",
                "tasktrack.serve",
                "--workers",
                str(daphne_workers()),
                "--port",
                str(self.port),
            ]
        return [
            str(BIN / "gunicorn"),
            "--workers",
            str(gunicorn_workers()),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--no-control-socket",  # gunicorn 27 otherwise shares one socket path in $HOME with every other
            "tasktrack.wsgi:application",
        ]

    def __enter__(self) -> "Server":
        env = {**os.environ, "DATABASE_URL": database_url()}
        # Few connections per process: PostgreSQL is shared with everything else on the machine.
        env.update({"DB_POOL_MIN": "1", "DB_POOL_MAX": "2" if self.kind == "gunicorn" else "10"})
        env.setdefault("LOG_LEVEL", "WARNING")
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = open(LOGS / f"{self.kind}-{self.port}.log", "w")  # noqa: SIM115
        while _answers(self.port):  # taken since it was picked: take the next free one
            self.port = next_port()
        # A session of its own, so stopping it can reach its workers too.
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}; see {self.log.name}")
            if _answers(self.port, path="/login/") and self.process.poll() is None:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.kind} did not answer on port {self.port} within {timeout} s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group this server started
                self.process.wait()
        deadline = time.monotonic() + 10
        while _answers(self.port) and time.monotonic() < deadline:  # workers may linger a moment
            time.sleep(0.2)
        if self.log:
            self.log.close()


def _answers(port: int, path: str = "/") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200 or path == "/"
    except urllib.error.HTTPError:
        return path == "/"
    except OSError:
        return False


_ports = itertools.cycle(range(PORT_BASE + 1, PORT_BASE + 100))


def next_port() -> int:
    """A fresh free port for each server start: a stopping server never answers for the next one."""
    for _ in range(99):
        port = next(_ports)
        if not _answers(port):
            return port
    raise RuntimeError(f"no free port in {PORT_BASE + 1}-{PORT_BASE + 99}: set BENCH_PORT")
