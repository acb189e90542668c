"""Processes the fault tests own: a Redis they may stop, a daphne they talk to over loopback.

Each gets a port the kernel found free (tests/support/ports.py), so a second suite or a stray server
cannot collide with them; every wait is bounded.
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
import redis
from django.db import connection

from tests.support import ports

ROOT = Path(__file__).resolve().parents[2]


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


def wait_for_http(process: subprocess.Popen, port: int, timeout: float) -> None:
    """Until the server answers HTTP on the port (its socket listens before it can answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        if ports.answers_http(port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing answered HTTP on {port} within {timeout}s")


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
    """A redis-server on a port of its own, started and stopped by the test.

    The first start takes a free port, and another one if something took it meanwhile; later
    starts come back on the same port, where the clients under test expect Redis.
    """

    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        if self.port:
            self._start()
            return
        for _ in range(5):
            self.port = ports.free_port()
            try:
                self._start()
                return
            except PortTaken:
                continue
        raise PortTaken("redis-server lost every free port it was given to another process")

    def _start(self) -> None:
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
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PortTaken(f"redis-server could not listen on {self.port}")
            owner = self._server_pid()
            if owner == self.process.pid:
                return
            if owner is not None:  # another Redis answers there, ours will fail to bind
                stop_process(self.process)
                raise PortTaken(f"another Redis (pid {owner}) listens on {self.port}")
            time.sleep(0.05)
        stop_process(self.process)
        raise TimeoutError(f"redis-server did not come up on {self.port} within 15 s")

    def _server_pid(self) -> int | None:
        """The pid of the Redis answering on our port, None when none does."""
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return int(client.info("server")["process_id"])
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        wait_for_port(self.port, up=False)


class PortTaken(RuntimeError):
    """The server could not have the port it was given."""


@pytest.fixture
def own_redis():
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


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

    def start(*, redis_url: str | None = None, static: bool = False, **env: str) -> Daphne:
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
        # A port of its own, handed over already listening: never a server left from an earlier test.
        with ports.listening_socket() as listener:
            port = listener.getsockname()[1]
            log_path = tmp_path / f"daphne-{port}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), "tasktrack.asgi:application"],
                cwd=ROOT,
                env=production_env(**extra),
                stdout=log_path.open("wb"),
                stderr=subprocess.STDOUT,
                pass_fds=[listener.fileno()],
            )
        server = Daphne(port, process, log_path)
        started.append(server)
        try:
            wait_for_http(process, port, timeout=30)
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
