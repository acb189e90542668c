"""Start daphne or gunicorn on the benchmark database, wait until it answers, stop it after."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from tests.support import ports

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOGS = ROOT / "bench" / "results" / "scratch"


def database_url() -> str:
    """The URL of the database this process uses (the bench one, or the test one under pytest)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def gunicorn_workers() -> int:
    return 2 * (os.cpu_count() or 1)


def pool_max(kind: str) -> int:
    """DB_POOL_MAX given to each process of a server of this kind."""
    # Few connections per process: PostgreSQL is shared with everything else on the machine.
    return 2 if kind == "gunicorn" else 10


def daphne_workers() -> int:
    """One per core: four measured no faster than two on two cores."""
    return os.cpu_count() or 1


class Server:
    """A server process of our own; `kind` is daphne, daphne-workers (python -m tasktrack.serve)
    or gunicorn.

    It is handed a socket already listening on a port the kernel found free, so it never collides
    with another server (another suite, a stray process, a port in TIME_WAIT). tasktrack.serve binds
    its own sockets (SO_REUSEPORT, one per worker): it gets a port held by a bound socket that
    joins the same group but never listens, so the kernel gives it no connection.
    """

    def __init__(self, kind: str, root: Path = ROOT):
        self.kind, self.port = kind, 0
        self.root = root  # another checkout (a baseline's git worktree) runs its own code
        self.fd: int | None = None
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
            return [str(BIN / "daphne"), "--fd", str(self.fd), "tasktrack.asgi:application"]
        if self.kind == "daphne-workers":
            workers = str(daphne_workers())
            return [str(BIN / "python"), "-m", "tasktrack.serve", "--workers", workers, "--port", str(self.port)]
        return [
            str(BIN / "gunicorn"),
            "--workers",
            str(gunicorn_workers()),
            "--bind",
            f"fd://{self.fd}",
            "--no-control-socket",  # gunicorn 27 otherwise shares one socket path in $HOME with every other
            "tasktrack.wsgi:application",
        ]

    def __enter__(self) -> "Server":
        env = {**os.environ, "DATABASE_URL": database_url()}
        env.update({"DB_POOL_MIN": "1", "DB_POOL_MAX": str(pool_max(self.kind))})
        env.setdefault("LOG_LEVEL", "WARNING")
        LOGS.mkdir(parents=True, exist_ok=True)
        if self.kind == "daphne-workers":
            with _reserved_port() as self.port:
                self.log = open(LOGS / f"{self.kind}-{self.port}.log", "w")  # noqa: SIM115
                self.process = subprocess.Popen(
                    self.command(),
                    cwd=self.root,
                    env=env,
                    stdout=self.log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                self._wait_ready()
            return self
        with ports.listening_socket() as listener:
            self.port, self.fd = listener.getsockname()[1], listener.fileno()
            self.log = open(LOGS / f"{self.kind}-{self.port}.log", "w")  # noqa: SIM115
            # A session of its own, so stopping it can reach its workers too.
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=[self.fd],
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


@contextmanager
def _reserved_port():
    """A free port held until the block ends by a bound, never listening SO_REUSEPORT socket."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def _answers(port: int, path: str = "/") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200 or path == "/"
    except urllib.error.HTTPError:
        return path == "/"
    except OSError:
        return False
