"""Rebuild or check every project's counts row with set-based SQL, a batch of projects at a time.

The repair behind `manage.py recalc_aggregates`: the signal handlers keep the rows exact, this
proves it (--check) or puts them right. One GROUP BY per batch, never a loop over tasks.

Raw SQL: the ORM cannot express the set-based comparison and rewrite (unnest inserts, UPDATE …
FROM a CTE, row-value IS DISTINCT FROM); its counts are held equal to count_live_tasks and
derive_category by tests/aggregates/test_recalc.py.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction

from aggregates import counts
from aggregates.models import COUNT_FIELDS
from boards.models import Project, Task, TaskStatus

AGG = counts.AGG_TABLE
PROJECT = counts.PROJECT_TABLE
NAMES = list(COUNT_FIELDS.values())  # todo_tasks, active_tasks, ...
BATCH_SIZE = 5000


def each(template: str, sep: str = ", ") -> str:
    """`template` once per count column, {n} standing for its name: each("a.{n}") → "a.todo_tasks, …"."""
    return sep.join(template.format(n=name) for name in NAMES)


# Live tasks per project and category for one batch of project ids (parameter: the id array).
# Counted per column first, straight from the task_board_live index in its order, then summed
# per category: the join to the columns sees one row per column, not one per task.
COUNTS_SQL = (
    "SELECT pc.project_id, "
    + ", ".join(
        f"coalesce(sum(pc.n) FILTER (WHERE s.category = '{category}'), 0)::int AS {name}"
        for category, name in COUNT_FIELDS.items()
    )
    + f" FROM (SELECT project_id, task_status_id, count(*) AS n FROM {Task._meta.db_table}"
    " WHERE archived_at IS NULL AND project_id = ANY(%(ids)s) GROUP BY project_id, task_status_id) pc"
    f" JOIN {TaskStatus._meta.db_table} s ON s.id = pc.task_status_id GROUP BY pc.project_id"
)


def _expected_status(alias: str) -> str:
    """The column a counts row (under `alias`) derives its project's status to (counts' rules)."""
    return counts.first_column_sql(f"{alias}.project_id", counts.derive_category_sql(alias))


@dataclass
class Drift:
    """One project whose stored row or derived status differs from a recount."""

    project_id: int
    expected: dict[str, int]
    stored: dict[str, int] | None  # None: no row
    expected_status_id: int | None
    stored_status_id: int | None

    def describe(self) -> str:
        parts = []
        if self.stored is None:
            parts.append(f"no counts row (expected {self.expected})")
        elif self.stored != self.expected:
            wrong = {k: f"{self.stored[k]}≠{v}" for k, v in self.expected.items() if self.stored[k] != v}
            parts.append("counts stored≠expected " + ", ".join(f"{k} {v}" for k, v in wrong.items()))
        if self.stored_status_id != self.expected_status_id:
            parts.append(f"derived status {self.stored_status_id} (expected {self.expected_status_id})")
        return f"project {self.project_id}: " + "; ".join(parts)


@dataclass
class RebuildResult:
    projects: int = 0
    created: list[int] = field(default_factory=list)  # rows that were missing
    fixed: list[int] = field(default_factory=list)  # rows whose counts were wrong
    statuses_fixed: int = 0


def project_ids(only: Iterable[int] | None = None) -> list[int]:
    """The ids to work on: all projects, or the given ones (which must exist)."""
    ids = Project.objects.order_by("pk").values_list("pk", flat=True)
    if only is None:
        return list(ids)
    wanted = sorted(set(only))
    found = list(ids.filter(pk__in=wanted))
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise Project.DoesNotExist(f"No project with id {', '.join(map(str, missing))}.")
    return found


def batches(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def rebuild(
    ids: Sequence[int], *, batch_size: int = BATCH_SIZE, on_batch: Callable[[int], None] | None = None
) -> RebuildResult:
    """Recount the given projects' rows and derived statuses; one transaction per batch."""
    result = RebuildResult()
    for batch in batches(ids, batch_size):
        # First the read-only comparison: counts and rows come from one snapshot, so a writer in
        # flight is invisible to both and a difference is real. Only those projects are
        # rewritten, under lock; an exact batch costs one query and locks nothing.
        drifts = _check_batch(batch)
        if drifts:
            with transaction.atomic():
                _rebuild_batch(drifts, result)
        result.projects += len(batch)
        if on_batch:
            on_batch(len(batch))
    return result


def _rebuild_batch(drifts: list[Drift], result: RebuildResult) -> None:
    """Recount and rewrite these projects' rows and derived statuses. Call inside atomic()."""
    missing = [drift for drift in drifts if drift.stored is None]
    created: list[int] = []
    with connection.cursor() as cursor:
        if missing:
            # Inserted with the counts of the comparison's snapshot. A row missing there has no
            # writer's delta pending: any writer since then created the row first (its insert
            # makes ours conflict and wait) or will find ours and add its delta to it.
            columns = [[drift.project_id for drift in missing]] + [
                [drift.expected[category] for drift in missing] for category in COUNT_FIELDS
            ]
            casts = ", ".join(["%s::bigint[]"] + ["%s::int[]"] * len(COUNT_FIELDS))
            cursor.execute(
                f"INSERT INTO {AGG} (project_id, {each('{n}')}, total_tasks, updated_at) "
                f"SELECT *, {each('{n}', ' + ')}, now() FROM unnest({casts}) AS m(project_id, {each('{n}')}) "
                "ORDER BY project_id ON CONFLICT (project_id) DO NOTHING RETURNING project_id",
                columns,
            )
            created = sorted(row[0] for row in cursor.fetchall())
        # Rows that exist (or that a writer created meanwhile) are locked before the recount: a
        # writer holding one commits first and is counted, one after us adds its delta to ours.
        wrong = sorted({drift.project_id for drift in drifts if drift.stored not in (None, drift.expected)})
        wrong += sorted({drift.project_id for drift in missing} - set(created))
        if wrong:
            params = {"ids": wrong}
            cursor.execute(
                f"SELECT project_id FROM {AGG} WHERE project_id = ANY(%(ids)s) ORDER BY project_id FOR UPDATE", params
            )
            cursor.execute(
                f"WITH c AS ({COUNTS_SQL}), e AS (SELECT a.project_id, {each('coalesce(c.{n}, 0) AS {n}')} "
                f"FROM {AGG} a LEFT JOIN c ON c.project_id = a.project_id WHERE a.project_id = ANY(%(ids)s)) "
                f"UPDATE {AGG} a SET total_tasks = {each('e.{n}', ' + ')}, {each('{n} = e.{n}')}, "
                "updated_at = now() FROM e WHERE a.project_id = e.project_id "
                f"AND ({each('a.{n}')}) IS DISTINCT FROM ({each('e.{n}')}) RETURNING a.project_id",
                params,
            )
            result.fixed += sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            f"UPDATE {PROJECT} p SET derived_status_id = x.status_id FROM ("
            f"SELECT a.project_id, {_expected_status('a')} AS status_id "
            f"FROM {AGG} a WHERE a.project_id = ANY(%(ids)s)) x "
            "WHERE p.id = x.project_id AND p.derived_status_id IS DISTINCT FROM x.status_id",
            {"ids": [drift.project_id for drift in drifts]},
        )
        result.statuses_fixed += cursor.rowcount
    result.created += created
    if created:
        # A bootstrap key of a row we created must not outlive this commit (see counts.bootstrap).
        keys = [counts.INIT_KEY.format(project_id=pk) for pk in created]
        transaction.on_commit(lambda: counts.cache_delete_many(keys))


def check(
    ids: Sequence[int], *, batch_size: int = BATCH_SIZE, on_batch: Callable[[int], None] | None = None
) -> list[Drift]:
    """Every given project whose row or derived status differs from a recount; writes nothing."""
    drifts: list[Drift] = []
    for batch in batches(ids, batch_size):
        drifts += _check_batch(batch)
        if on_batch:
            on_batch(len(batch))
    return drifts


def _check_batch(ids: list[int]) -> list[Drift]:
    sql = (
        f"WITH c AS ({COUNTS_SQL}), e AS ("
        "SELECT p.id AS project_id, p.derived_status_id AS stored_status, a.project_id IS NOT NULL AS has_row, "
        f"{each('a.{n} AS s_{n}')}, {each('coalesce(c.{n}, 0) AS {n}')} "
        f"FROM {PROJECT} p LEFT JOIN c ON c.project_id = p.id LEFT JOIN {AGG} a ON a.project_id = p.id "
        "WHERE p.id = ANY(%(ids)s)), "
        f"d AS (SELECT e.*, {_expected_status('e')} AS expected_status FROM e) "
        f"SELECT project_id, has_row, stored_status, expected_status, {each('s_{n}')}, {each('{n}')} FROM d "
        "WHERE NOT has_row OR stored_status IS DISTINCT FROM expected_status "
        f"OR ({each('s_{n}')}) IS DISTINCT FROM ({each('{n}')}) ORDER BY project_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids})
        rows = cursor.fetchall()
    n = len(NAMES)
    drifts = []
    for project_id, has_row, stored_status, expected_status, *values in rows:
        stored = dict(zip(COUNT_FIELDS, values[:n], strict=True)) if has_row else None
        expected = dict(zip(COUNT_FIELDS, values[n:], strict=True))
        drifts.append(Drift(project_id, expected, stored, expected_status, stored_status))
    return drifts
