"""Helpers for the live-board tests: session cookies, WebSocket clients, daphne processes."""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from tasktrack.asgi import application
from tests.support import ports

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://127.0.0.1"
DAPHNE = str(Path(sys.executable).parent / "daphne")
APP_NAME = "tasktrack-test-daphne"


def session_cookie(user) -> str:
    """A real session for the user, as the value of the session cookie."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def board_path(project_id: int, client_id: str | None = None) -> str:
    return f"/ws/projects/{project_id}/board/" + (f"?client={client_id}" if client_id else "")


async def open_socket(project_id: int, *, cookie: str | None = None, origin: str = ORIGIN, client_id=None):
    """A WebsocketCommunicator on the full ASGI stack (origin check, session auth, consumer)."""
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, board_path(project_id, client_id), headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def receive_until(communicator, needle: str, timeout: float = 5) -> str:
    """The first message that contains `needle`, skipping others (hello, presence)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no message containing {needle!r}"
        message = await communicator.receive_output(timeout=left)
        if message["type"] == "websocket.close":
            raise AssertionError(f"socket closed ({message.get('code')}) waiting for {needle!r}")
        if needle in message.get("text", ""):
            return message["text"]


def column_count(html: str, column_id: int) -> int | None:
    """The count an oob column_count fragment shows for a column, None when it has none."""
    found = re.search(rf'id="column-{column_id}-count".*?<span class="held"[^>]*>(\d+)</span>', html, re.S)
    return int(found.group(1)) if found else None


def server_env(**env) -> dict:
    """The environment of a server the tests start: the test database, a small pool, `env`."""
    database = settings.DATABASES["default"]
    return {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
            f"/{database['NAME']}"
        ),
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "4",
        "LOG_LEVEL": "WARNING",
        "PGAPPNAME": APP_NAME,  # libpq names the server's sessions, so stop() can wait for them
        **env,
    }


class Daphne:
    """A daphne process serving the project against the test database, on a port it is handed
    already listening (a free one, or `port` to come back where a stopped server was)."""

    def __init__(self, port: int = 0, **env):
        listener = ports.listening_socket(port)
        self.port = listener.getsockname()[1]
        # Its log goes to a file, not a pipe: a pipe nobody reads fills up (64 KB) and the server
        # then blocks on its next log line, in the middle of a test.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it until stop()
        with listener:
            self.process = subprocess.Popen(
                self.command(listener.fileno()),
                cwd=ROOT,
                env=server_env(**env),
                stdout=subprocess.DEVNULL,
                stderr=self.log,
                pass_fds=[listener.fileno()],
            )

    def output(self, limit: int = 2000) -> str:
        """The end of what the server has logged so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:]

    def command(self, fd: int) -> list[str]:
        return [DAPHNE, "--fd", str(fd), "tasktrack.asgi:application"]

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne on {self.port} exited: {self.output()}")
            if ports.answers_http(self.port):  # the socket listens from the start: ask daphne itself
                return
            time.sleep(0.2)
        raise RuntimeError(f"daphne on {self.port} did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        self._wait_sessions_gone()

    def _wait_sessions_gone(self, timeout: float = 5) -> None:
        # PostgreSQL ends a dead client's backend a moment after the process: wait for it, or the
        # test database cannot be flushed or dropped after the test. A connection of its own, not
        # Django's: called under Playwright, Django's would open one more that outlives the test.
        import psycopg

        database = settings.DATABASES["default"]
        with psycopg.connect(
            host=database["HOST"] or "127.0.0.1",
            port=database["PORT"] or 5432,
            user=database["USER"],
            password=database["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                row = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                    [database["NAME"], APP_NAME],
                ).fetchone()
                if row[0] == 0:
                    return
                time.sleep(0.1)


class Gunicorn(Daphne):
    """gunicorn (WSGI, two sync workers) serving HTTP, as README's production start runs it."""

    def command(self, fd: int) -> list[str]:
        gunicorn = str(Path(DAPHNE).with_name("gunicorn"))
        return [gunicorn, "--workers", "2", "--bind", f"fd://{fd}", "--no-control-socket", "tasktrack.wsgi:application"]


class Serve(Daphne):
    """python -m tasktrack.serve (one daphne worker unless told) on a port the kernel picks: serve
    binds its workers' sockets itself, and prints the port."""

    def __init__(self, *, workers: int = 1, **env):
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it until stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tasktrack.serve", "--workers", str(workers), "--port", "0"],
            cwd=ROOT,
            env=server_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        # Its first line names the port; daphne's own lines follow in the same log.
        deadline = time.monotonic() + 30
        while (found := re.search(r"http://127\.0\.0\.1:(\d+)/", self.output(limit=10**6))) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"tasktrack.serve did not start: {self.output()}")
            time.sleep(0.1)
        self.port = int(found.group(1))


class Browserless:
    """A logged-in HTTP client for a running server (urllib, cookies, CSRF), no browser."""

    def __init__(self, base_url: str, session: str):
        import http.cookiejar
        import urllib.request

        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), urllib.request.ProxyHandler({})
        )
        self.cookie_header = f"{settings.SESSION_COOKIE_NAME}={session}"

    def _cookies(self) -> str:
        return "; ".join([self.cookie_header, *(f"{c.name}={c.value}" for c in self.jar)])

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        import urllib.parse
        import urllib.request

        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, headers={"Cookie": self._cookies()})
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if body is not None:
            token = next((c.value for c in self.jar if c.name == settings.CSRF_COOKIE_NAME), "")
            request.add_header("X-CSRFToken", token)
        with self.opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()


def ws_url(server_url: str, project_id: int, client_id: str | None = None) -> str:
    return server_url.replace("http://", "ws://") + board_path(project_id, client_id)


def ws_connect(server_url: str, project_id: int, session: str, client_id: str | None = None):
    """A real WebSocket client (the `websockets` package) on a running server."""
    from websockets.sync.client import connect

    return connect(
        ws_url(server_url, project_id, client_id),
        origin=server_url,
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
        proxy=None,
        open_timeout=10,
    )


def ws_receive_until(socket, needle: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no message containing {needle!r}"
        message = socket.recv(timeout=left)
        if needle in message:
            return message
