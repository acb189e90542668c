"""The counts themselves: deltas, the bootstrap of a missing row, and the derived status.

Deltas, not recounts: a write costs the same in a project of ten tasks and of a hundred thousand.
Recounts are for the bootstrap and for recalc_aggregates.

Raw SQL (table names from _meta): the ORM cannot write the delta and the derived status in one
data-modifying statement, nor INSERT … ON CONFLICT DO NOTHING RETURNING; the derived-status rule
exists once in Python (derive_category) and once in SQL (derive_category_sql), and
tests/aggregates/test_signals.py holds the two equal row by row.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from aggregates.models import COUNT_FIELDS, ProjectTaskStatusAgg
from boards.models import Category, Project, Task, TaskStatus

log = logging.getLogger(__name__)

INIT_KEY = "project_agg_init:{project_id}"
INIT_TTL = 3600
AGG_TABLE = ProjectTaskStatusAgg._meta.db_table
PROJECT_TABLE = Project._meta.db_table
STATUS_TABLE = TaskStatus._meta.db_table

Key = tuple[int, str]  # (project_id, category) of a live task


class CountDriftError(RuntimeError):
    """A count would go below zero or a row is missing: the counts were wrong before this write."""


def derive_category(counts: Mapping[str, int]) -> str:
    """The project status rule from ARCHITECTURE.md; first match wins."""
    total = sum(counts.values())
    if total == 0:
        return Category.TODO
    if counts.get(Category.ISSUE, 0):
        return Category.ISSUE
    done = counts.get(Category.DONE, 0)
    if done == total:
        return Category.DONE
    if counts.get(Category.REVIEW, 0) == total - done:
        return Category.REVIEW
    if counts.get(Category.ACTIVE, 0) or counts.get(Category.REVIEW, 0) or done:
        return Category.ACTIVE
    return Category.TODO


def set_derived_status(project_id: int, category: str) -> None:
    """Point the project at its first column of `category`; writes only when that changes."""
    first_column = first_column_sql("%s", "%s")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {PROJECT_TABLE} SET derived_status_id = {first_column} "
            f"WHERE id = %s AND derived_status_id IS DISTINCT FROM {first_column}",
            [project_id, category, project_id, project_id, category],
        )


def refresh_derived_status(project_id: int) -> None:
    """Re-derive from the stored counts, after columns were added, moved or recategorised."""
    # Locked: a concurrent writer's counts commit before we read them, never after we derive.
    with transaction.atomic(savepoint=False):
        agg = ProjectTaskStatusAgg.objects.select_for_update().filter(pk=project_id).first()
        if agg is not None:
            set_derived_status(project_id, derive_category(agg.as_counts()))


def apply_deltas(deltas: Mapping[Key, int]) -> None:
    """Add each change to its project's row with one UPDATE per project. Call inside atomic()."""
    per_project: dict[int, dict[str, int]] = defaultdict(dict)
    for (project_id, category), change in deltas.items():
        if change:
            per_project[project_id][category] = per_project[project_id].get(category, 0) + change
    for project_id, changes in sorted(per_project.items()):
        changes = {category: n for category, n in changes.items() if n}
        if changes:
            _apply_project_delta(project_id, changes)


def _apply_project_delta(project_id: int, changes: dict[str, int]) -> None:
    assignments = [f"{COUNT_FIELDS[category]} = {COUNT_FIELDS[category]} + %s" for category in changes]
    params: list = list(changes.values())
    total = sum(changes.values())
    if total:
        assignments.append("total_tasks = total_tasks + %s")
        params.append(total)
    assignments.append("updated_at = %s")
    params += [timezone.now(), project_id]
    update = f"UPDATE {AGG_TABLE} SET {', '.join(assignments)} WHERE project_id = %s"
    returning = ", ".join(COUNT_FIELDS.values())
    try:
        with connection.cursor() as cursor:
            # One round trip: the project's derived status follows in the same statement.
            cursor.execute(_WITH_DERIVED_STATUS.format(update=update, returning=returning), params)
            row = cursor.fetchone()
    except IntegrityError as error:
        raise CountDriftError(
            f"Applying {changes} to project {project_id} would make a count negative: the stored "
            "counts were already wrong. Run `manage.py recalc_aggregates --check`."
        ) from error
    if row is None:
        raise CountDriftError(f"Project {project_id} has no aggregate row; it must be bootstrapped first.")


def derive_category_sql(alias: str | None = None) -> str:
    """derive_category() as a CASE over the count columns of a counts row (under `alias`): the rule
    written once for SQL, which the set-based statements here and in recalc use; tests hold it
    equal to derive_category (derived_category_in_sql)."""
    prefix = f"{alias}." if alias else ""
    todo, active, review, issue, done = (f"{prefix}{COUNT_FIELDS[c]}" for c in Category.values)
    total = f"({todo} + {active} + {review} + {issue} + {done})"
    return (
        f"CASE WHEN {total} = 0 THEN '{Category.TODO}' "
        f"WHEN {issue} > 0 THEN '{Category.ISSUE}' "
        f"WHEN {done} = {total} THEN '{Category.DONE}' "
        f"WHEN {review} = {total} - {done} THEN '{Category.REVIEW}' "
        f"WHEN {active} > 0 OR {review} > 0 OR {done} > 0 THEN '{Category.ACTIVE}' "
        f"ELSE '{Category.TODO}' END"
    )


def first_column_sql(project: str, category: str) -> str:
    """The id of the project's first column (by position) of a category, or NULL: the rule the
    derived status points by, written once (`project` and `category` are SQL expressions)."""
    return (
        f"(SELECT s.id FROM {STATUS_TABLE} s WHERE s.project_id = {project} AND s.category = {category} "
        "ORDER BY s.position, s.id LIMIT 1)"
    )


_WITH_DERIVED_STATUS = (
    "WITH a AS ({update} RETURNING project_id, {returning}), "
    f"d AS (SELECT a.*, {derive_category_sql()} AS derived FROM a), "
    f"p AS (UPDATE {PROJECT_TABLE} SET derived_status_id = {first_column_sql('d.project_id', 'd.derived')} FROM d "
    f"WHERE {PROJECT_TABLE}.id = d.project_id "
    f"AND {PROJECT_TABLE}.derived_status_id IS DISTINCT FROM {first_column_sql('d.project_id', 'd.derived')}) "
    "SELECT {returning} FROM d"
)


def derived_category_in_sql(counts: Mapping[str, int]) -> str:
    """What the database derives from these counts; for tests that hold SQL and Python equal."""
    values = ", ".join(f"%s AS {COUNT_FIELDS[c]}" for c in Category.values)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {derive_category_sql()} FROM (SELECT {values}) c", [counts[c] for c in Category.values])
        return cursor.fetchone()[0]


def count_live_tasks(project_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Live tasks per project and category, with one GROUP BY; never loads tasks."""
    project_ids = list(project_ids)
    counts: dict[int, dict[str, int]] = {pid: dict.fromkeys(COUNT_FIELDS, 0) for pid in project_ids}
    rows = (
        Task.objects.live()
        .filter(project_id__in=project_ids)
        .values_list("project_id", "task_status__category")
        .annotate(n=Count("id"))
        .order_by()
    )
    for project_id, category, n in rows:
        counts[project_id][category] = n
    return counts


def has_row(project_id: int) -> bool:
    return ProjectTaskStatusAgg.objects.filter(pk=project_id).exists()


def bootstrap(project_id: int, *, use_cache: bool = True) -> bool:
    """Create a missing row from a recount; True when this call created it. Call inside atomic().

    Called before the write that needs the row. With use_cache=False the count is taken fresh:
    for callers whose write is already in the transaction, where a cached count from before it
    would be wrong.
    """
    key = INIT_KEY.format(project_id=project_id)
    counts = _cache_get(key) if use_cache else None
    if counts is None:
        counts = count_live_tasks([project_id])[project_id]
        if use_cache:
            _cache_set(key, counts)
    if not _insert_row(project_id, counts):
        # Another writer created the row first (and committed: the insert waited for it); our
        # count may predate its commit.
        _cache_delete(key)
        return False
    # The row now holds what the key held: the key must not outlive this commit.
    transaction.on_commit(lambda: _cache_delete(key))
    set_derived_status(project_id, derive_category(counts))
    return True


def ensure_row(project_id: int) -> None:
    """Bootstrap the project's row when it is missing. Call inside atomic()."""
    if not has_row(project_id):
        bootstrap(project_id)


def create_empty_row(project_id: int) -> None:
    """The row of a project created just now, in its transaction."""
    _insert_row(project_id, dict.fromkeys(COUNT_FIELDS, 0))


def get_or_create_project_aggregation(project) -> ProjectTaskStatusAgg:
    """The project's counts row, bootstrapped from one GROUP BY when it is missing."""
    project_id = getattr(project, "pk", project)
    agg = ProjectTaskStatusAgg.objects.filter(pk=project_id).first()
    if agg is None:
        with transaction.atomic():
            bootstrap(project_id)
        agg = ProjectTaskStatusAgg.objects.get(pk=project_id)
    return agg


def _insert_row(project_id: int, counts: Mapping[str, int]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when this call created the row."""
    columns = ["project_id", "total_tasks", *COUNT_FIELDS.values(), "updated_at"]
    values = [project_id, sum(counts.values()), *(counts[c] for c in COUNT_FIELDS), timezone.now()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AGG_TABLE} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
            "ON CONFLICT (project_id) DO NOTHING RETURNING project_id",
            values,
        )
        return cursor.fetchone() is not None


# Redis is an accelerator: a cache failure costs a recount, never a request.
_cache_failing = False


def _cache_call(action: str, call, default=None):
    global _cache_failing
    try:
        result = call()
    except Exception:  # noqa: BLE001 - any cache failure is survivable here
        if not _cache_failing:
            log.warning("bootstrap cache %s failed; carrying on without the cache", action, exc_info=True)
        _cache_failing = True
        return default
    _cache_failing = False
    return result


def _cache_get(key: str):
    return _cache_call("get", lambda: cache.get(key))


def _cache_set(key: str, counts: Mapping[str, int]) -> None:
    _cache_call("set", lambda: cache.set(key, dict(counts), INIT_TTL))


def _cache_delete(key: str) -> None:
    _cache_call("delete", lambda: cache.delete(key))


def cache_delete_many(keys: list[str]) -> None:
    _cache_call("delete_many", lambda: cache.delete_many(keys))
