"""Start daphne or gunicorn on the benchmark database, wait until it answers, stop it after."""

import os
import subprocess
import sys
import time
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
        return "daphne (ASGI, one process)"

    def command(self) -> list[str]:
        if self.kind == "daphne":
            return [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "tasktrack.asgi:application"]
        return [
            str(BIN / "gunicorn"),
            "--workers",
            str(gunicorn_workers()),
            "--bind",
            f"127.0.0.1:{self.port}",
            "tasktrack.wsgi:application",
        ]

    def __enter__(self) -> "Server":
        env = {**os.environ, "DATABASE_URL": database_url()}
        # Few connections per process: PostgreSQL is shared with everything else on the machine.
        env.update({"DB_POOL_MIN": "1", "DB_POOL_MAX": "2" if self.kind == "gunicorn" else "10"})
        env.setdefault("LOG_LEVEL", "WARNING")
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = open(LOGS / f"{self.kind}-{self.port}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.kind} did not answer on port {self.port} within {timeout} s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()
