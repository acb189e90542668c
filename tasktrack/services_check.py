"""Before the suite: stop at once, with one line, when PostgreSQL or Redis is not reachable."""

import os
import socket
import sys
from urllib.parse import urlsplit

SERVICES = [
    (
        "PostgreSQL",
        "DATABASE_URL",
        5432,
        "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    ),
    (
        "Redis",
        "REDIS_URL",
        6379,
        "start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
    ),
]


def main() -> int:
    for name, variable, default_port, hint in SERVICES:
        url = os.environ.get(variable, "")
        if not url:
            print(f"make test needs {name}: set {variable}.", file=sys.stderr)
            return 1
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or default_port
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            print(f"{name} is not reachable at {host}:{port} ({variable}); {hint}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
