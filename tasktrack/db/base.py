"""PostgreSQL (Django's backend) whose connection pool replaces dead connections all at once.

psycopg_pool tests each connection as it leaves the pool (Django's CONN_HEALTH_CHECKS) and, after
every connection that fails, waits a back-off: 1 s, then 2 s, 4 s, 8 s… One dead connection usually
means they all died (PostgreSQL restarted, a failover, pg_terminate_backend), and checked one by
one a pool of five would hold the next request past its 10 s timeout, and with it every request
behind it on daphne's one thread for sync views. Here the first failed check tests the whole pool,
so the next request waits one back-off instead.
"""

from django.db.backends.postgresql import base as postgresql
from psycopg_pool import ConnectionPool


def check_connection(conn) -> None:
    """psycopg_pool's check; on failure, test and refill the whole pool before giving up this one."""
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        pool = getattr(conn, "_pool", None)  # set by the pool while the connection is lent out
        if pool is not None:
            pool.check()
        raise


class DatabaseWrapper(postgresql.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        # Django passes ConnectionPool.check_connection when CONN_HEALTH_CHECKS is on and has no
        # setting for another check; the pool keeps it in `_check` (psycopg_pool 3.2 and 3.3).
        if pool is not None and self.settings_dict["CONN_HEALTH_CHECKS"] and pool._check is not check_connection:
            pool._check = check_connection
        return pool
