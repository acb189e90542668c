"""The database engine when DATABASE_URL is unset and the development database is not running:
PostgreSQL (tasktrack.db) that never connects, and says how to start one instead.

Everything that needs no connection works as on PostgreSQL: quoting and SQL built at import time,
`makemigrations`, `collectstatic`. Its error is an OperationalError too, the class `makemigrations`
expects from a database it cannot reach (it then skips comparing with the applied migrations).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.utils import OperationalError

from tasktrack.db import base as postgresql


class DevDatabaseNotRunning(ImproperlyConfigured, OperationalError):
    pass


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_connection_params(self):  # the first step of every connection, the test database's too
        if getattr(settings, "TESTING", False):
            message = (
                "DATABASE_URL is unset: run the tests with `make test`, which sets it (the PostgreSQL on "
                "127.0.0.1:5432, or the embedded one when nothing listens there), or set DATABASE_URL=postgres://…"
            )
        else:
            message = (
                "DATABASE_URL is unset and the development database (.data/postgres) is not running: "
                "start it with `make run` (or `.venv/bin/python -m tasktrack.devdb` for the database alone), "
                "or set DATABASE_URL=postgres://…"
            )
        raise DevDatabaseNotRunning(message)
