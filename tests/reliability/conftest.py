"""Processes the fault tests own: a Redis they may stop, a daphne they talk to over loopback.

Ports come from this branch's range (18700-18799); every wait is bounded.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REDIS_PORT = int(os.environ.get("RELIAB_REDIS_PORT", "18701"))
DAPHNE_PORT = int(os.environ.get("RELIAB_DAPHNE_PORT", "18702"))


def wait_for_port(port: int, *, up: bool = True, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'} within {timeout}s")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class OwnRedis:
    """A redis-server on its own port, started and stopped by the test."""

    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        wait_for_port(self.port, up=False)


@pytest.fixture
def own_redis():
    redis = OwnRedis(REDIS_PORT)
    redis.start()
    yield redis
    redis.stop()


def production_env(**extra: str) -> dict:
    """Environment for a daphne subprocess: DEBUG off, this test's database and Redis index."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "reliability-test-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


@dataclass
class Daphne:
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def daphne(transactional_db, tmp_path):
    """Start daphne against the test database (so rows must be committed: transactional_db)."""
    started: list[Daphne] = []

    def start(*, redis_url: str | None = None, port: int = DAPHNE_PORT, static: bool = False, **env: str) -> Daphne:
        """static=True collects the static files first (with DEBUG off whitenoise serves only those)."""
        db = connection.settings_dict
        credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        database_url = f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        extra = {"DATABASE_URL": database_url, "DB_POOL_MAX": "8", **env}
        if redis_url is not None:
            extra["REDIS_URL"] = redis_url
            extra["REDIS_TEST_DB"] = "0"
        if static:
            extra["STATIC_ROOT"] = str(tmp_path / "static")
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                cwd=ROOT,
                env=production_env(**extra),
                check=True,
                timeout=60,
            )
        # Never talk to a server left over from an earlier test: the port must be free first.
        wait_for_port(port, up=False, timeout=15)
        log_path = tmp_path / f"daphne-{port}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tasktrack.asgi:application"],
            cwd=ROOT,
            env=production_env(**extra),
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        server = Daphne(port, process, log_path)
        started.append(server)
        try:
            wait_for_port(port, timeout=30)
            assert process.poll() is None, "daphne exited"
        except (TimeoutError, AssertionError):
            stop_process(process)
            raise AssertionError(f"daphne did not start:\n{server.log()}") from None
        return server

    yield start
    for server in started:
        stop_process(server.process)
    # Let the database forget the subprocess's pooled connections before the flush.
    connection.close()


def server_errors(access_log: str, *, allow: tuple[int, ...] = ()) -> list[str]:
    """daphne's access-log lines with a 5xx status (other than those allowed)."""
    lines = re.findall(r'^.*"[A-Z]+ [^"]*" 5\d\d .*$', access_log, flags=re.M)
    return [line for line in lines if int(line.rsplit('" ', 1)[1].split()[0]) not in allow]
