"""Receivers that keep ProjectTaskStatusAgg exact. Short adapters around aggregates.counts.

pre_save/pre_delete read the stored state under a row lock (never the in-memory instance, which
may be stale) and bootstrap a missing row before the write; post_save/post_delete apply the delta.
The task row is locked FOR UPDATE and its columns FOR SHARE, so a concurrent category change of a
column (which locks that column FOR NO KEY UPDATE and recounts it) cannot interleave with a move.
"""

from collections import Counter

from django.db import connection
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from aggregates import counts
from boards.models import COUNTED_FIELDS, Application, Project, Task, TaskStatus
from boards.signals import NewCardState, StoredState, columns_changed, take_handed_over, tasks_bulk_changed

TASK_TABLE = Task._meta.db_table
STATUS_TABLE = TaskStatus._meta.db_table
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


def _fetchone(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def stored_state(task_id: int, *, new_column: int | None = None) -> StoredState | None:
    """The stored state of a task, locked, or None when its row is gone; `new_column` (the column
    the save writes) is share-locked too and its category read."""
    # The task is locked in a CTE of its own: locked through a join, a row that a concurrent
    # move updated while we waited is rechecked against its old column and silently dropped.
    # Its columns are share-locked in id order, as every writer locks columns (boards.services.locks).
    row = _fetchone(
        "WITH t AS MATERIALIZED ("
        f"SELECT project_id, task_status_id, archived_at FROM {TASK_TABLE} WHERE id = %s FOR UPDATE"
        f"), c AS MATERIALIZED (SELECT id, category FROM {STATUS_TABLE} "
        "WHERE id IN (SELECT task_status_id FROM t) OR id = %s ORDER BY id FOR SHARE"
        ") SELECT t.project_id, t.archived_at IS NULL, os.category, "
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
    return StoredState(project_id=project_id, category=category, live=live, has_row=has_row, new_category=new_category)


def column_category(status_id: int) -> NewCardState:
    """A column's category, share-locked, and whether its project has a row."""
    row = _fetchone(
        "SELECT s.category, "
        f"EXISTS (SELECT 1 FROM {counts.AGG_TABLE} a WHERE a.project_id = s.project_id) "
        f"FROM {STATUS_TABLE} s WHERE s.id = %s FOR SHARE OF s",
        [status_id],
    )
    if row is None:
        raise TaskStatus.DoesNotExist(f"No column with id {status_id}.")
    return NewCardState(category=row[0], has_row=row[1])


def task_pre_save(sender, instance: Task, raw=False, update_fields=None, **kwargs):
    handed = take_handed_over(instance)
    if raw or (update_fields is not None and not COUNTED_FIELDS.intersection(update_fields)):
        instance._agg_before = SKIP
        return
    found = None
    if not instance._state.adding and instance.pk is not None:
        found = handed if isinstance(handed, StoredState) else None
        found = found or stored_state(instance.pk, new_column=instance.task_status_id)
        if found is None:
            # Deleted under us: decided under the lock this read takes, so no save counts a card
            # it did not insert (Task._do_update refuses the INSERT Django would fall back to).
            raise Task.DoesNotExist(Task.gone(instance.pk))
    project_id, live = instance.project_id, instance.archived_at is None
    # Bootstrap before the write, so the recount does not see it and the delta is applied once.
    if found is None:  # a new task: save() inserts it
        before = None
        new = handed if isinstance(handed, NewCardState) else column_category(instance.task_status_id)
        category, has_row = new.category, new.has_row
        if not has_row:
            counts.bootstrap(instance.project_id)
    else:
        before, stored_project, has_row = found.counted, found.project_id, found.has_row
        category, stored_category, stored_live = found.new_category, found.category, found.live
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
    handed = take_handed_over(instance)
    found = handed if isinstance(handed, StoredState) else stored_state(instance.pk)
    if found is None:
        instance._agg_before = None
        return
    if not found.has_row:
        counts.bootstrap(found.project_id)
    instance._agg_before = found.counted


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
        f"SELECT category, position FROM {STATUS_TABLE} WHERE id = %s FOR NO KEY UPDATE",
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
