"""Before the suite: stop at once, with one line, when PostgreSQL or Redis is not reachable.

An empty DATABASE_URL means the embedded PostgreSQL (tasktrack.devdb), which `make test` starts
itself: only Redis is checked then. `--local-postgres HOST:PORT` prints the URL `make test` uses
when DATABASE_URL is unset and a PostgreSQL listens there, or nothing.

Standard library only: `make test` runs it with the system Python before installing anything.
"""

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit


def postgres_hint(port: int) -> str:
    versions = sorted(path.name for path in Path("/etc/postgresql").glob("*") if path.name.isdigit())
    if versions:
        return f"start it with: pg_ctlcluster --skip-systemctl-redirect {versions[-1]} main start"
    return "install and start it with: apt-get install postgresql && pg_ctlcluster <version> main start"


def redis_hint(port: int) -> str:
    return f"start it with: redis-server --daemonize yes --bind 127.0.0.1 --port {port} --save '' --appendonly no"


SERVICES = [("PostgreSQL", "DATABASE_URL", 5432, postgres_hint), ("Redis", "REDIS_URL", 6379, redis_hint)]


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def local_postgres_url(address: str = "127.0.0.1:5432") -> str:
    """The test database URL on a PostgreSQL that listens at address, or '' when none does."""
    host, _, port = address.rpartition(":")
    return f"postgres://postgres@{host}:{port}/tasktrack" if listening(host, int(port)) else ""


def problem() -> str:
    """One line naming the first service that is not listening, or an empty string."""
    for name, variable, default_port, hint in SERVICES:
        url = os.environ.get(variable, "")
        if not url and variable == "DATABASE_URL":
            continue  # the embedded PostgreSQL, started by make test itself
        if not url:
            return f"make test needs {name}: set {variable}."
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or default_port
        if not listening(host, port):
            return f"{name} is not reachable at {host}:{port} ({variable}); {hint(port)}"
    return ""


if __name__ == "__main__":
    if sys.argv[1:2] == ["--local-postgres"]:
        print(local_postgres_url(sys.argv[2]))
        sys.exit(0)
    message = problem()
    if message:
        print(message)
    sys.exit(1 if message else 0)
