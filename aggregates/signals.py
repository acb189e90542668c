"""Receivers that keep ProjectTaskStatusAgg exact. Short adapters around aggregates.counts.

pre_save/pre_delete read the stored state under a row lock (never the in-memory instance, which
may be stale) and bootstrap a missing row before the write; post_save/post_delete apply the delta.
The task row is locked FOR UPDATE and its columns FOR SHARE, so a concurrent category change of a
column (which locks that column FOR UPDATE and recounts it) cannot interleave with a move.
"""

from collections import Counter

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
    target = "JOIN boards_taskstatus ns ON ns.id = %s" if new_column else ""
    # The task is locked in a CTE of its own: locked through a join, a row that a concurrent
    # move updated while we waited is rechecked against its old column and silently dropped.
    row = _fetchone(
        f"WITH t AS {_locks('MATERIALIZED')} ("
        "SELECT project_id, task_status_id, archived_at FROM boards_task WHERE id = %s "
        + _locks("FOR UPDATE")
        + ") SELECT t.project_id, t.archived_at IS NULL, os.category, "
        f"EXISTS (SELECT 1 FROM {counts.AGG_TABLE} a WHERE a.project_id = t.project_id), "
        + ("ns.category " if new_column else "NULL ")
        + f"FROM t JOIN boards_taskstatus os ON os.id = t.task_status_id {target} "
        + _locks("FOR SHARE OF os" + (", ns" if new_column else "")),
        [task_id, new_column] if new_column else [task_id],
    )
    if row is None:
        return None
    project_id, live, category, has_row, new_category = row
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


def task_pre_save(sender, instance: Task, raw=False, update_fields=None, **kwargs):
    if raw or (update_fields is not None and not COUNTED_FIELDS.intersection(update_fields)):
        instance._agg_before = SKIP
        return
    found = None
    if not instance._state.adding and instance.pk is not None:
        found = stored_state(instance.pk, new_column=instance.task_status_id)
    project_id, live = instance.project_id, instance.archived_at is None
    # Bootstrap before the write, so the recount does not see it and the delta is applied once.
    if found is None:  # a new task, or one deleted under us that save() will insert again
        before = None
        category, has_row = column_category(instance.task_status_id)
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
    found = stored_state(instance.pk)
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
        "SELECT category, position FROM boards_taskstatus WHERE id = %s " + _locks("FOR UPDATE"),
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
