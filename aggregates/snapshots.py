"""Daily per-category snapshots of every project, copied from the exact counts rows.

Raw SQL: INSERT … SELECT … ON CONFLICT DO UPDATE copies every project in one statement, which the
ORM cannot express; tests/boards/test_insights.py holds the snapshots equal to the counts rows.
"""

import datetime as dt

from django.db import connection
from django.utils import timezone

from aggregates.counts import AGG_TABLE, COUNT_FIELDS
from boards.models import ProjectDailySnapshot, ProjectSequence

SNAPSHOT_TABLE = ProjectDailySnapshot._meta.db_table
SEQ_TABLE = ProjectSequence._meta.db_table


def take_daily_snapshots(day: dt.date | None = None) -> int:
    """Upsert `day`'s snapshot (default today) of every project with a counts row; one statement.

    Idempotent: a second run the same day replaces the counts with the current ones. The counts
    and the sequence number are read by one statement, so they describe the same instant.
    """
    day = day or timezone.localdate()
    columns = list(COUNT_FIELDS.values())
    names = ", ".join(columns)
    sql = (
        f"INSERT INTO {SNAPSHOT_TABLE} (project_id, date, {names}, seq, taken_at) "
        f"SELECT a.project_id, %s, {', '.join('a.' + c for c in columns)}, COALESCE(s.last_seq, 0), %s "
        f"FROM {AGG_TABLE} a LEFT JOIN {SEQ_TABLE} s ON s.project_id = a.project_id "
        f"ON CONFLICT (project_id, date) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in [*columns, "seq", "taken_at"])
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [day, timezone.now()])
        return cursor.rowcount
