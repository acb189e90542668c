"""Receivers that keep ProjectTaskStatusAgg exact. Short adapters around aggregates.counts.

pre_save/pre_delete read the stored state under a row lock (never the in-memory instance, which
may be stale) and bootstrap a missing row before the write; post_save/post_delete apply the delta.
The task row is locked FOR UPDATE and its columns FOR SHARE, so a concurrent category change of a
column (which locks that column FOR NO KEY UPDATE and recounts it) cannot interleave with a move.
"""

from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from aggregates import counts
from boards.models import COUNTED_FIELDS, Application, Project, Task, TaskStatus
from boards.signals import columns_changed, tasks_bulk_changed

SKIP = object()  # the save touches nothing counted
COLUMN_FIELDS = ("category", "position")  # the column fields the counts and the derived status read

# (project_id, category) of a live task, or None for an archived or absent one.
State = tuple[int, str] | None


def connect() -> None:
    pre_save.connect(task_pre_save, sender=Task, dispatch_uid="aggregates.task_pre_save")
    post_save.connect(task_post_save, sender=Task, dispatch_uid="aggregates.task_post_save")
    pre_delete.connect(task_pre_delete, sender=Task, dispatch_uid="aggregates.task_pre_delete")
    post_delete.connect(task_post_delete, sender=Task, dispatch_uid="aggregates.task_post_delete")
    pre_save.connect(status_pre_save, sender=TaskStatus, dispatch_uid="aggregates.status_pre_save")
    post_save.connect(status_post_save, sender=TaskStatus, dispatch_uid="aggregates.status_post_save")
    post_delete.connect(status_post_delete, sender=TaskStatus, dispatch_uid="aggregates.status_post_delete")
    post_save.connect(project_post_save, sender=Project, dispatch_uid="aggregates.project_post_save")
    columns_changed.connect(on_columns_changed, dispatch_uid="aggregates.columns_changed")
    tasks_bulk_changed.connect(on_tasks_bulk_changed, dispatch_uid="aggregates.tasks_bulk_changed")


def _locks(clause: str) -> str:
    return clause if connection.features.has_select_for_update else ""


def _fetchone(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def stored_state(task_id: int, *, new_column: int | None = None):
    """The stored state of a task, locked, or None when its row is gone.

    Returns (before, project_id, has_row, new_category, category, live): `before` is the stored
    (project, category), None when archived; `project_id` its stored project and `has_row`
    whether that has a counts row; `new_category` the category of `new_column`, share-locked
    too; `category` and `live` the stored column's category and whether the task is live.
    """
    # The task is locked in a CTE of its own: locked through a join, a row that a concurrent
    # move updated while we waited is rechecked against its old column and silently dropped.
    # Its columns are share-locked in id order, as every writer locks columns (boards.locking).
    row = _fetchone(
        f"WITH t AS {_locks('MATERIALIZED')} ("
        "SELECT project_id, task_status_id, archived_at FROM boards_task WHERE id = %s "
        + _locks("FOR UPDATE")
        + f"), c AS {_locks('MATERIALIZED')} (SELECT id, category FROM boards_taskstatus "
        "WHERE id IN (SELECT task_status_id FROM t) OR id = %s ORDER BY id "
        + _locks("FOR SHARE")
        + ") SELECT t.project_id, t.archived_at IS NULL, os.category, "
        f"EXISTS (SELECT 1 FROM {counts.AGG_TABLE} a WHERE a.project_id = t.project_id), "
        "(SELECT category FROM c WHERE c.id = %s) "
        "FROM t JOIN c os ON os.id = t.task_status_id",
        [task_id, new_column, new_column],
    )
    if row is None:
        return None
    project_id, live, category, has_row, new_category = row
    if new_column and new_category is None:
        raise TaskStatus.DoesNotExist(f"No column with id {new_column}.")
    return ((project_id, category) if live else None), project_id, has_row, new_category, category, live


def column_category(status_id: int) -> tuple[str, bool]:
    """A column's category, share-locked, and whether its project has a row."""
    row = _fetchone(
        "SELECT s.category, "
        f"EXISTS (SELECT 1 FROM {counts.AGG_TABLE} a WHERE a.project_id = s.project_id) "
        "FROM boards_taskstatus s WHERE s.id = %s " + _locks("FOR SHARE OF s"),
        [status_id],
    )
    if row is None:
        raise TaskStatus.DoesNotExist(f"No column with id {status_id}.")
    return row


# A stored state the caller read under the handler's own locks, for one save or delete of one
# instance (handing_over): (instance, state), or None.
_handed: ContextVar[tuple | None] = ContextVar("aggregates_handed_state", default=None)


@contextmanager
def handing_over(instance: Task, state):
    """Give the pre-save or pre-delete handler of `instance`, for the save or delete run inside
    this block, its stored state: read by the caller in this transaction under the locks
    stored_state() takes (boards.locking), so the card is not locked and read twice.
    stored_state()'s tuple for a stored card, column_category()'s for a new one; it must name the
    column the instance is saved into. Outside the block the handlers read for themselves."""
    token = _handed.set((instance, state))
    try:
        yield
    finally:
        _handed.reset(token)


def _handed_over(instance: Task):
    handed = _handed.get()
    if handed is None or handed[0] is not instance:
        return None
    _handed.set(None)  # one write only
    return handed[1]


def task_pre_save(sender, instance: Task, raw=False, update_fields=None, **kwargs):
    handed = _handed_over(instance)
    if raw or (update_fields is not None and not COUNTED_FIELDS.intersection(update_fields)):
        instance._agg_before = SKIP
        return
    found = None
    if not instance._state.adding and instance.pk is not None:
        found = handed or stored_state(instance.pk, new_column=instance.task_status_id)
    project_id, live = instance.project_id, instance.archived_at is None
    # Bootstrap before the write, so the recount does not see it and the delta is applied once.
    if found is None:  # a new task, or one deleted under us that save() will insert again
        before = None
        adding = instance._state.adding and handed is not None
        category, has_row = handed if adding else column_category(instance.task_status_id)
        if not has_row:
            counts.bootstrap(instance.project_id)
    else:
        before, stored_project, has_row, category, stored_category, stored_live = found
        if update_fields is not None:
            # A counted field the save does not write keeps its stored value, whatever the
            # instance holds.
            written = set(update_fields)
            if not written & {"project", "project_id"}:
                project_id = stored_project
            if not written & {"task_status", "task_status_id"}:
                category = stored_category
            if "archived_at" not in written:
                live = stored_live
        if not has_row:
            counts.bootstrap(stored_project)
        if project_id != stored_project:
            counts.ensure_row(project_id)
    instance._agg_before = before
    instance._agg_after = (project_id, category) if live else None


def task_post_save(sender, instance: Task, raw=False, **kwargs):
    before = instance.__dict__.pop("_agg_before", SKIP)
    after = instance.__dict__.pop("_agg_after", None)
    if raw or before is SKIP:
        return
    _apply(before, after)


def _deleting_project(origin) -> bool:
    """The task goes because its project does: the counts row goes with it."""
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return model in (Project, Application)


def task_pre_delete(sender, instance: Task, origin=None, **kwargs):
    if _deleting_project(origin):
        instance._agg_before = SKIP
        return
    found = _handed_over(instance) or stored_state(instance.pk)
    if found is None:
        instance._agg_before = None
        return
    before, project_id, has_row, *_ = found
    if not has_row:
        counts.bootstrap(project_id)
    instance._agg_before = before


def task_post_delete(sender, instance: Task, **kwargs):
    before = instance.__dict__.pop("_agg_before", SKIP)
    if before is not SKIP:
        _apply(before, None)


def _apply(before: State, after: State) -> None:
    if before == after:
        return  # a move within one category, or nothing counted changed
    delta: Counter = Counter()
    if before:
        delta[before] -= 1
    if after:
        delta[after] += 1
    counts.apply_deltas(delta)


def status_pre_save(sender, instance: TaskStatus, raw=False, update_fields=None, **kwargs):
    instance._agg_old = None
    if raw or instance._state.adding or instance.pk is None:
        return
    written = set(COLUMN_FIELDS).intersection(update_fields if update_fields is not None else COLUMN_FIELDS)
    if not written:
        instance._agg_old = SKIP
        return
    row = _fetchone(
        "SELECT category, position FROM boards_taskstatus WHERE id = %s " + _locks("FOR NO KEY UPDATE"),
        [instance.pk],
    )
    if row is None:
        return
    # A field the save does not write keeps its stored value, whatever the instance holds.
    old = (
        row[0] if "category" in written else instance.category,
        row[1] if "position" in written else instance.position,
    )
    if old[0] != instance.category:
        counts.ensure_row(instance.project_id)
    instance._agg_old = old


def status_post_save(sender, instance: TaskStatus, created=False, raw=False, **kwargs):
    old = instance.__dict__.pop("_agg_old", None)
    if raw or old is SKIP:
        return
    if old is not None and old[0] != instance.category:
        # The column is locked FOR UPDATE: no move in or out can interleave with this count.
        moved = Task.objects.live().filter(task_status_id=instance.pk).count()
        counts.apply_deltas({(instance.project_id, old[0]): -moved, (instance.project_id, instance.category): moved})
    if created or old is None or old != (instance.category, instance.position):
        counts.refresh_derived_status(instance.project_id)


def status_post_delete(sender, instance: TaskStatus, origin=None, **kwargs):
    if not _deleting_project(origin):
        counts.refresh_derived_status(instance.project_id)


def project_post_save(sender, instance: Project, created=False, raw=False, **kwargs):
    if created and not raw:
        counts.create_empty_row(instance.pk)


def on_columns_changed(sender, project_id: int, **kwargs):
    counts.refresh_derived_status(project_id)


def on_tasks_bulk_changed(sender, deltas, **kwargs):
    """Bulk operations have written already: a missing row is counted fresh, with no delta."""
    for project_id in sorted({project_id for project_id, _ in deltas}):
        # A row another writer created meanwhile was counted without our uncommitted write:
        # only a row this call creates already holds the delta.
        if not counts.has_row(project_id) and counts.bootstrap(project_id, use_cache=False):
            deltas = {key: n for key, n in deltas.items() if key[0] != project_id}
    counts.apply_deltas(deltas)
