"""CSV exports against real servers (daphne and gunicorn): cancelled, concurrent and very large.

A cancelled export must leave the connection pool whole and the board fast; a user beyond their
limit of heavy requests gets 429; a 1,000,000-row export starts at once and streams in flat memory.
The events are made with one INSERT … SELECT generate_series (seconds, not minutes).
"""

import concurrent.futures
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from boards.models import Membership, ProjectSequence, TaskEvent
from tests.factories import MembershipFactory, make_project
from tests.reliability.conftest import production_env, stop_process, wait_for_http
from tests.support import ports
from tests.support.live_support import session_cookie

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP_NAME = "tasktrack-test-exports"  # names the servers' PostgreSQL sessions in pg_stat_activity
POOL_MAX = 4
USERS = 5


def add_events(project, n: int) -> None:
    """n events for the project, numbered 1..n, in one statement; the sequence row follows."""
    events, sequences = TaskEvent._meta.db_table, ProjectSequence._meta.db_table
    with connection.cursor() as cursor:
        # Raw SQL: a million rows through the ORM would take minutes; this takes seconds.
        cursor.execute(
            f"INSERT INTO {events} (project_id, seq, task_title, at, kind, task_count, data) "
            "SELECT %s, n, 'Card ' || n, now() - make_interval(secs => %s - n), 'edited', 1, "
            """'{"fields": ["title"], "title": {"from": "a", "to": "b"}}'::jsonb """
            "FROM generate_series(1, %s) AS n",
            [project.pk, n, n],
        )
        cursor.execute(
            f"INSERT INTO {sequences} (project_id, last_seq) VALUES (%s, %s) "
            "ON CONFLICT (project_id) DO UPDATE SET last_seq = EXCLUDED.last_seq",
            [project.pk, n],
        )


@dataclass
class Server:
    kind: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def pids(self) -> list[int]:
        """The server and its worker processes."""
        found = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def rss(self) -> int:
        """Resident memory of the server and its workers, in bytes."""
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total


@pytest.fixture
def serve(transactional_db, tmp_path):
    """Start daphne or gunicorn (two sync workers, as README's production start) on the test database."""
    started: list[Server] = []

    def start(kind: str, **env: str) -> Server:
        db = connection.settings_dict
        extra = {
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": str(POOL_MAX),
            "DB_POOL_TIMEOUT": "3",
            "PGAPPNAME": APP_NAME,
            "SECRET_KEY": settings.SECRET_KEY,  # the sessions made here (session_cookie) must hold there
            **env,
        }
        with ports.listening_socket() as listener:
            fd = listener.fileno()
            if kind == "daphne":
                command = [sys.executable, "-m", "daphne", "--fd", str(fd), "tasktrack.asgi:application"]
            else:
                command = [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"fd://{fd}", "--no-control-socket"]
                command += ["--timeout", "600", "tasktrack.wsgi:application"]  # a long export is not a hung worker
            log_path = tmp_path / f"{kind}.log"
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=production_env(**extra),
                stdout=log_path.open("wb"),
                stderr=subprocess.STDOUT,
                pass_fds=[fd],
            )
            server = Server(kind, listener.getsockname()[1], process, log_path)
        started.append(server)
        try:
            wait_for_http(process, server.port, timeout=30)
        except (TimeoutError, AssertionError):
            stop_process(process)
            raise AssertionError(f"{kind} did not start:\n{server.log()}") from None
        return server

    yield start
    for server in started:
        stop_process(server.process)
    wait_sessions_gone()
    connection.close()


def admin_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def server_sessions() -> dict[str, int]:
    """The servers' PostgreSQL sessions on the test database, counted by state."""
    with admin_connection() as admin:
        rows = admin.execute(
            "SELECT coalesce(state, ''), count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = %s GROUP BY 1",
            [connection.settings_dict["NAME"], APP_NAME],
        ).fetchall()
    return dict(rows)


def wait_sessions_gone(timeout: float = 10) -> None:
    # PostgreSQL ends a dead client's sessions a moment after it: the flush after the test needs them gone.
    deadline = time.monotonic() + timeout
    while server_sessions() and time.monotonic() < deadline:
        time.sleep(0.1)


@dataclass
class Opened:
    status: int
    headers: str
    body: bytes
    sock: socket.socket
    first_byte: float  # seconds from the request to the first byte of the response


def open_export(port: int, cookie: str, path: str, *, want: int = 32_768, timeout: float = 15) -> Opened:
    """Send the request and read the head and at least `want` bytes of body (or all of a short one)."""
    sock = socket.create_connection((ports.HOST, port), timeout=timeout)
    # HTTP/1.0: the body comes as is (not chunked) and the server closes the connection after it.
    request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: {settings.SESSION_COOKIE_NAME}={cookie}\r\n\r\n"
    started = time.monotonic()
    sock.sendall(request.encode())
    data = sock.recv(65536)
    first_byte = time.monotonic() - started
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < want:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return Opened(status, head.decode("latin1"), body, sock, first_byte)


def cancel_one(port: int, cookie: str, path: str, deadline: float) -> int:
    """Start an export, read a little of it, hang up. Retried while 429 (the user's previous
    export may not be noticed as gone yet); how many tries it took."""
    tries = 0
    while True:
        tries += 1
        opened = open_export(port, cookie, path, want=16_384)
        opened.sock.close()
        if opened.status == 200:
            return tries
        assert opened.status == 429, opened.headers
        assert time.monotonic() < deadline, "exports kept answering 429"
        time.sleep(0.2)


def timed_get(port: int, cookie: str, path: str) -> tuple[int, float]:
    started = time.monotonic()
    opened = open_export(port, cookie, path, want=1 << 30, timeout=30)
    opened.sock.close()
    return opened.status, time.monotonic() - started


@pytest.fixture
def big_project(transactional_db):
    """A project of 100,000 events, an owner and USERS viewers (sessions as cookies)."""
    project = make_project(name="Big", key="BIG")
    owner = MembershipFactory(application=project.application, role=Membership.Role.OWNER).user
    viewers = [
        MembershipFactory(application=project.application, role=Membership.Role.VIEWER).user for _ in range(USERS)
    ]
    add_events(project, 100_000)
    return project, session_cookie(owner), [session_cookie(viewer) for viewer in viewers]


@pytest.mark.parametrize("kind", ["daphne", "gunicorn"])
def test_cancelled_exports_leave_the_pool_whole_and_the_limit_holds(kind, serve, big_project):
    project, owner, viewers = big_project
    # One export at a time per user: under gunicorn, a second one lands on the other worker.
    server = serve(kind, HEAVY_REQUESTS_PER_USER="1")
    export = reverse("export_events", args=[project.pk])
    board = reverse("board", args=[project.pk])

    # 50 exports started and cancelled mid-stream, a few at a time (two cores shared).
    deadline = time.monotonic() + 90
    with concurrent.futures.ThreadPoolExecutor(USERS) as pool:
        tries = list(pool.map(lambda n: cancel_one(server.port, viewers[n % USERS], export, deadline), range(50)))
    assert len(tries) == 50
    print(f"{kind}: 50 cancelled in {time.monotonic() - deadline + 90:.1f} s, {sum(tries) - 50} retries after 429")

    # The pool is whole: within a few seconds no session is left working or inside a transaction,
    # and as many board pages as the pool has connections load at once, normally.
    settle = time.monotonic() + 10
    while (busy := {k: v for k, v in server_sessions().items() if k != "idle"}) and time.monotonic() < settle:
        time.sleep(0.2)
    assert busy == {}, f"sessions left busy: {busy}"
    assert sum(server_sessions().values()) <= POOL_MAX * (2 if kind == "gunicorn" else 1)
    with concurrent.futures.ThreadPoolExecutor(POOL_MAX) as pool:
        loads = list(pool.map(lambda _: timed_get(server.port, owner, board), range(POOL_MAX)))
    assert [status for status, _ in loads] == [200] * POOL_MAX, server.log()
    assert max(seconds for _, seconds in loads) < 3, loads  # normally ~0.1 s; generous on a shared machine

    # A user over their limit: one export open (its client not reading), the second is refused.
    print(f"{kind}: board loads {[round(seconds, 2) for _, seconds in loads]}")
    held = open_export(server.port, viewers[0], export)
    assert held.status == 200
    assert held.first_byte < 1.0, f"first byte after {held.first_byte:.1f} s"  # 100,000 events behind it
    refused = open_export(server.port, viewers[0], export, want=1 << 20)  # all of it: the server closes
    refused.sock.close()
    assert refused.status == 429, refused.headers
    assert "Retry-After: 5" in refused.headers.replace("retry-after", "Retry-After")
    assert b"Too many requests" in refused.body
    # Others are not held up by it.
    assert timed_get(server.port, owner, board)[0] == 200
    held.sock.close()
    # Once the client has gone, the user may export again (as soon as the server noticed).
    assert cancel_one(server.port, viewers[0], export, time.monotonic() + 30) >= 1


MILLION = 1_000_000


@dataclass
class Streamed:
    first_byte: float
    lines: int
    megabytes: float
    seconds: float
    growth: float  # MB of resident memory the server gained after the first 50,000 rows


def stream_all(server: Server, cookie: str, path: str) -> Streamed:
    """Read a whole export as fast as the server sends it, sampling the server's memory."""
    started = time.monotonic()
    opened = open_export(server.port, cookie, path, want=0, timeout=60)
    assert opened.status == 200, opened.headers
    lines, received = opened.body.count(b"\n"), len(opened.body)
    baseline = peak = None
    next_sample = 0
    while chunk := opened.sock.recv(1 << 20):
        received += len(chunk)
        lines += chunk.count(b"\n")
        if received >= next_sample:
            next_sample = received + (2 << 20)
            rss = server.rss()
            if baseline is None and lines > 50_000:
                baseline = peak = rss  # after the first chunks: imports, pools and buffers are warm
            elif baseline is not None:
                peak = max(peak, rss)
    opened.sock.close()
    growth = (peak - baseline) / 2**20 if baseline is not None else float("nan")
    return Streamed(opened.first_byte, lines, received / 2**20, time.monotonic() - started, growth)


def test_a_million_row_export_starts_at_once_and_streams_in_flat_memory(serve, transactional_db):
    """Under daphne, where a sync stream used to be buffered whole before the first byte (under
    gunicorn a sync worker's write blocks on the socket: the stream cannot run ahead of the client;
    the test above checks its first byte). One server keeps the test near a minute."""
    project = make_project(name="Huge", key="HUGE")
    viewer = MembershipFactory(application=project.application, role=Membership.Role.VIEWER).user
    cookie = session_cookie(viewer)
    add_events(project, MILLION)
    server = serve("daphne")
    result = stream_all(server, cookie, reverse("export_events", args=[project.pk]))
    print(result)
    assert result.lines == MILLION + 1, f"{result}\n{server.log()}"
    assert result.first_byte < 1.0, f"first byte after {result.first_byte:.1f} s"
    # ~130 MB of CSV went through; the server grew by far less than that.
    assert result.growth < 30, f"resident memory grew {result.growth:.0f} MB over the export"
