"""Every write to tasks, columns and projects: one function each, one transaction each.

Views, the admin, consumers and commands call these; none of them writes tasks itself. Counts
follow through the model signals (see aggregates.signals); the bulk operations, which bypass
those signals, send boards.signals.tasks_bulk_changed with the delta they applied.
"""

import functools
from collections import Counter
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import Case, Count, Max, Min, Q, When
from django.utils import timezone

from boards import history, live
from boards.models import Application, Category, Project, Task, TaskStatus
from boards.signals import columns_changed, tasks_bulk_changed

TITLE_MAX = Task._meta.get_field("title").max_length
DESCRIPTION_MAX = Task._meta.get_field("description").max_length
RANK_STEP = 1024.0
RANK_MIN_GAP = 1e-6  # below this a column is renumbered: floats run out after ~40 halvings


# PostgreSQL breaks a deadlock by aborting one writer (40P01); a serialization failure (40001) is
# the same kind of refusal. The other writer has gone on, so a fresh attempt sees its result.
RETRIED_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 3


def retry_on_deadlock(operation):
    """Run an operation again when the database aborted it to break a deadlock.

    Only as the outermost transaction: inside a caller's atomic() the whole transaction is lost,
    and the caller must decide.
    """

    @functools.wraps(operation)
    def run(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            outermost = not transaction.get_connection().in_atomic_block
            try:
                return operation(*args, **kwargs)
            except OperationalError as error:
                sqlstate = getattr(error.__cause__, "sqlstate", None)
                if not outermost or attempt == ATTEMPTS or sqlstate not in RETRIED_SQLSTATES:
                    raise

    return run


class Conflict(Exception):
    """The change is valid but the board moved on: a stale edit, a full column."""


class StaleVersion(Conflict):
    pass


class WipLimitReached(Conflict):
    pass


def clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError({"title": "A card needs a title."})
    if len(title) > TITLE_MAX:
        raise ValidationError({"title": f"Keep the title to {TITLE_MAX} characters (this one has {len(title)})."})
    return title


def clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            {"description": f"Keep the description to {DESCRIPTION_MAX} characters (this one has {len(description)})."}
        )
    return description


def _column(project: Project, status_id, *, for_update: bool = False) -> TaskStatus:
    columns = TaskStatus.objects.select_for_update() if for_update else TaskStatus.objects.all()
    try:
        return columns.get(pk=int(status_id), project_id=project.pk)
    except (TaskStatus.DoesNotExist, TypeError, ValueError):
        raise ValidationError({"task_status": "That column is not on this board (it may have been deleted)."}) from None


def _check_wip(column: TaskStatus, *, incoming: int = 1) -> None:
    """Refuse cards beyond a hard limit. The column is locked, so two moves cannot both fit."""
    if not (column.wip_limit and column.wip_hard):
        return
    held = Task.objects.live().filter(task_status_id=column.pk).count()
    if held + incoming > column.wip_limit:
        raise WipLimitReached(f"“{column.name}” is full: its limit is {column.wip_limit} card(s) and it holds {held}.")


def _lock_column_if_limited(project: Project, status_id, *, source_id=None) -> TaskStatus:
    """The target column, locked FOR UPDATE when its limit is hard so two cards cannot both fit.

    The move's source column is locked with it, in id order: the handlers share-lock both, and
    two moves in opposite directions between hard-limited columns would otherwise deadlock.
    """
    column = _column(project, status_id)
    if column.wip_limit and column.wip_hard:
        ids = sorted({column.pk, source_id or column.pk})
        locked = TaskStatus.objects.select_for_update().filter(project_id=project.pk, pk__in=ids).order_by("pk")
        column = {c.pk: c for c in locked}[column.pk]
    return column


def _locked_task(project: Project, task_id) -> Task:
    gone = Task.DoesNotExist("That card no longer exists: someone may have deleted it.")
    try:
        locked = Task.objects.select_for_update(of=("self",)).filter(pk=int(task_id), project_id=project.pk)
    except (TypeError, ValueError, OverflowError):
        raise gone from None
    task = locked.select_related("task_status").first()
    # When a concurrent move commits while we wait for the lock, PostgreSQL rechecks the join
    # against the old column and drops the row: take the lock alone, then read again.
    if task is None and locked.exists():
        task = locked.select_related("task_status").first()
    if task is None:
        raise gone
    return task


def _rank(column: TaskStatus, *, after_id=None, before_id=None, moving_id=None) -> float:
    """A position between the new neighbours; renumbers the column only when ranks run out."""
    # project_id too: the task_board_live index (project, task_status, position) then answers each
    # MIN/MAX below from one end of a range, instead of scanning the whole column.
    siblings = Task.objects.live().filter(project_id=column.project_id, task_status_id=column.pk).exclude(pk=moving_id)
    anchor_id, above = (after_id, True) if after_id else (before_id, False)
    anchor = siblings.filter(pk=anchor_id).values_list("position", "pk").first() if anchor_id else None
    if anchor is None:  # no neighbour given, or it left the column meanwhile: the bottom
        last = siblings.aggregate(m=Max("position"))["m"]
        return 0.0 if last is None else last + RANK_STEP
    position, pk = anchor
    if above:
        beyond = Q(position__gt=position) | Q(position=position, pk__gt=pk)
        neighbour = siblings.filter(beyond, position__gte=position).aggregate(m=Min("position"))["m"]
        low, high = position, neighbour
    else:
        beyond = Q(position__lt=position) | Q(position=position, pk__lt=pk)
        neighbour = siblings.filter(beyond, position__lte=position).aggregate(m=Max("position"))["m"]
        low, high = neighbour, position
    if low is None:
        return high - RANK_STEP
    if high is None:
        return low + RANK_STEP
    if high - low < RANK_MIN_GAP:
        renumber_column(column)
        return _rank(column, after_id=after_id, before_id=before_id, moving_id=moving_id)
    return (low + high) / 2


def renumber_column(column: TaskStatus) -> None:
    """Spread a column's ranks out again, keeping their order. Rare: only when ranks run out."""
    ids = list(Task.objects.filter(task_status_id=column.pk).order_by("position", "pk").values_list("pk", flat=True))
    whens = [When(pk=pk, then=index * RANK_STEP) for index, pk in enumerate(ids)]
    if whens:
        Task.objects.filter(pk__in=ids).update(position=Case(*whens, output_field=Task._meta.get_field("position")))


@retry_on_deadlock
def create_task(
    *,
    project: Project,
    status_id,
    title: str,
    reporter,
    description: str = "",
    assignee=None,
    at_top: bool = True,
    actor=None,
) -> Task:
    """A new card at the top (or bottom) of a column."""
    title = clean_title(title)
    description = clean_description(description)
    with transaction.atomic():
        column = _lock_column_if_limited(project, status_id)
        _check_wip(column)
        edge = (
            Task.objects.live()
            .filter(project_id=project.pk, task_status_id=column.pk)
            .aggregate(lo=Min("position"), hi=Max("position"))
        )
        if edge["lo"] is None:
            position = 0.0
        elif at_top:
            position = edge["lo"] - RANK_STEP
        else:
            position = edge["hi"] + RANK_STEP
        task = Task(
            project=project,
            task_status=column,
            title=title,
            description=description,
            assignee=assignee,
            reporter=reporter,
            position=position,
        )
        task.save()
        event = history.record_created(task, actor=actor or reporter)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


@retry_on_deadlock
def update_task(
    *, project: Project, task_id, version: int, title=None, description=None, assignee=..., actor=None
) -> Task:
    """Edit a card's text and assignee; refuses an edit made on a stale copy."""
    changes = {}
    if title is not None:
        changes["title"] = clean_title(title)
    if description is not None:
        changes["description"] = clean_description(description)
    try:
        version = int(version)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("This edit names no valid version of the card; reload it and try again.") from None
    with transaction.atomic():
        task = _locked_task(project, task_id)
        if version != task.version:
            raise StaleVersion(
                "Someone else changed this card after you opened it. Your text is kept below; "
                "reload the card to see their version before saving again."
            )
        if assignee is not ...:
            changes["assignee_id"] = getattr(assignee, "pk", assignee)
        changed = [field for field, value in changes.items() if getattr(task, field) != value]
        if not changed:
            return task
        edits = {field: (getattr(task, field), changes[field]) for field in changed}
        for field in changed:
            setattr(task, field, changes[field])
        task.version += 1
        task.save(update_fields=[*changed, "version", "updated_at"])
        event = history.record_edited(task, actor=actor, changes=edits)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


def _neighbour_id(value) -> int | None:
    """A neighbour's id as given by a client: empty for none; anything but an integer is refused."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("The card's new neighbours are not valid ids.") from None


@retry_on_deadlock
def move_task(*, project: Project, task_id, status_id, after_id=None, before_id=None, actor=None) -> Task:
    """Move a card to a column, below `after_id` or above `before_id` (neither: the bottom)."""
    after_id, before_id = _neighbour_id(after_id), _neighbour_id(before_id)
    with transaction.atomic():
        task = _locked_task(project, task_id)
        if task.is_archived:
            raise ValidationError("This card is archived: unarchive it before moving it.")
        from_column = task.task_status_id
        column = _lock_column_if_limited(project, status_id, source_id=from_column)
        if column.pk != from_column:
            _check_wip(column)
        from_status = task.task_status
        task.position = _rank(column, after_id=after_id, before_id=before_id, moving_id=task.pk)
        task.task_status = column
        task.save(update_fields=["task_status", "position", "updated_at"])
        event = history.record_moved(task, actor=actor, from_status=from_status, to_status=column)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], column_ids=[from_column], events=[event])
    return task


@retry_on_deadlock
def archive_task(*, project: Project, task_id, actor=None) -> Task:
    """Take a card off the board; it stays in the Archived view."""
    with transaction.atomic():
        task = _locked_task(project, task_id)
        if not task.is_archived:
            task.archived_at = timezone.now()
            task.save(update_fields=["archived_at", "updated_at"])
            events = history.record_archived([task], actor=actor)
            live.publish_on_commit(
                project_id=project.pk, task_ids=[task.pk], column_ids=[task.task_status_id], events=events
            )
    return task


@retry_on_deadlock
def unarchive_task(*, project: Project, task_id, actor=None) -> Task:
    """Put an archived card back at the bottom of its column."""
    with transaction.atomic():
        task = _locked_task(project, task_id)
        if task.is_archived:
            column = _lock_column_if_limited(project, task.task_status_id)
            _check_wip(column)
            task.archived_at = None
            task.position = _rank(column, moving_id=task.pk)
            task.save(update_fields=["archived_at", "position", "updated_at"])
            event = history.record_unarchived(task, actor=actor)
            live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


@retry_on_deadlock
def delete_task(*, project: Project, task_id, actor=None) -> Task:
    """Delete a card for good."""
    with transaction.atomic():
        task = _locked_task(project, task_id)
        task_id, was_live = task.pk, not task.is_archived
        column_id = task.task_status_id
        task.delete()
        event = history.record_deleted(task, actor=actor, task_id=task_id, was_live=was_live)
        live.publish_on_commit(project_id=project.pk, task_ids=[task_id], column_ids=[column_id], events=[event])
    return task


def _share_lock_columns(status_ids: Iterable[int] = (), *, project: Project | None = None) -> dict[int, TaskStatus]:
    """Columns by id (or all of `project`), read under FOR SHARE.

    Bulk writes bypass the model handlers: they take the same column locks, and count with the
    category read under the lock, which a concurrent category change cannot make stale.
    """
    status_ids = set(status_ids)
    if project is None and not status_ids:
        return {}
    columns = TaskStatus.objects.filter(project=project) if project else TaskStatus.objects.filter(pk__in=status_ids)
    if connection.features.has_select_for_update:
        sql, params = columns.order_by("pk").query.sql_with_params()
        columns = TaskStatus.objects.raw(f"{sql} FOR SHARE", params)
    return {column.pk: column for column in columns}


def _locked_tasks(project: Project, task_ids: Sequence) -> list[Task]:
    """The tasks locked FOR UPDATE, each with its column read under FOR SHARE."""
    try:
        ids = sorted({int(pk) for pk in task_ids})
    except (TypeError, ValueError):
        raise ValidationError("Some of the selected cards are not valid ids.") from None
    # No join in the locking query: see _locked_task.
    tasks = list(Task.objects.select_for_update().filter(project_id=project.pk, pk__in=ids).order_by("pk"))
    if len(tasks) != len(ids):
        raise Task.DoesNotExist("Some of the selected cards no longer exist; nothing was changed.")
    columns = _share_lock_columns({task.task_status_id for task in tasks})
    for task in tasks:
        task.task_status = columns[task.task_status_id]
    return tasks


@retry_on_deadlock
def bulk_move_tasks(*, project: Project, task_ids: Sequence, status_id, actor=None) -> list[Task]:
    """Move many cards to the bottom of one column, in their current order, with one UPDATE."""
    with transaction.atomic():
        tasks = _locked_tasks(project, task_ids)
        column = _lock_column_if_limited(project, status_id)
        moving = [task for task in tasks if task.task_status_id != column.pk and not task.is_archived]
        sources = {task.task_status_id for task in moving}
        _check_wip(column, incoming=len(moving))
        column = _share_lock_columns([column.pk])[column.pk]
        last = (
            Task.objects.live()
            .filter(project_id=project.pk, task_status_id=column.pk)
            .aggregate(m=Max("position"))["m"]
            or 0.0
        )
        deltas: Counter = Counter()
        whens = []
        moving.sort(key=lambda task: (task.task_status.position, task.position, task.pk))
        moves = [(task, task.task_status) for task in moving]
        for index, task in enumerate(moving, start=1):
            deltas[(project.pk, task.task_status.category)] -= 1
            deltas[(project.pk, column.category)] += 1
            task.position = last + index * RANK_STEP
            task.task_status = column
            whens.append(When(pk=task.pk, then=task.position))
        if whens:
            Task.objects.filter(pk__in=[task.pk for task in moving]).counts_handled().update(
                task_status_id=column.pk,
                position=Case(*whens, output_field=Task._meta.get_field("position")),
                updated_at=timezone.now(),
            )
            tasks_bulk_changed.send(sender=Task, deltas=dict(deltas))
            events = history.record_bulk_moved(moves, actor=actor, to_status=column)
            live.publish_on_commit(
                project_id=project.pk,
                task_ids=[task.pk for task in moving],
                column_ids=[column.pk, *sources],
                events=events,
            )
    return tasks


@retry_on_deadlock
def bulk_archive_tasks(*, project: Project, task_ids: Sequence, actor=None) -> list[Task]:
    """Archive many cards with one UPDATE."""
    with transaction.atomic():
        tasks = _locked_tasks(project, task_ids)
        to_archive = [task for task in tasks if not task.is_archived]
        now = timezone.now()
        deltas = Counter((project.pk, task.task_status.category) for task in to_archive)
        if to_archive:
            Task.objects.filter(pk__in=[task.pk for task in to_archive]).counts_handled().update(
                archived_at=now, updated_at=now
            )
            for task in to_archive:
                task.archived_at = now
            tasks_bulk_changed.send(sender=Task, deltas={key: -n for key, n in deltas.items()})
            events = history.record_archived(to_archive, actor=actor)
            live.publish_on_commit(
                project_id=project.pk,
                task_ids=[task.pk for task in to_archive],
                column_ids=[task.task_status_id for task in to_archive],
                events=events,
            )
    return tasks


def bulk_create_tasks(*, project: Project, tasks: Sequence[Task], batch_size: int = 5000, actor=None) -> int:
    """Insert many prepared tasks of one project at once (imports, demo data); counts follow."""
    with transaction.atomic():
        statuses = _share_lock_columns(project=project)
        columns = {pk: column.category for pk, column in statuses.items()}
        deltas: Counter = Counter()
        for task in tasks:
            if task.task_status_id not in columns:
                raise ValidationError(f"Card “{task.title}” names a column that is not on this board.")
            task.project_id = project.pk
            task.title = clean_title(task.title)
            if task.archived_at is None:
                deltas[(project.pk, columns[task.task_status_id])] += 1
        Task.objects.counts_handled().bulk_create(tasks, batch_size=batch_size)
        tasks_bulk_changed.send(sender=Task, deltas=dict(deltas))
        events = history.record_bulk_created(tasks, statuses, actor=actor)
        live.publish_on_commit(project_id=project.pk, resync=True, events=events)
    return len(tasks)


def create_project(*, application: Application, name: str, key: str) -> Project:
    """A project with the five default columns and its counts row."""
    name = " ".join((name or "").split())
    key = (key or "").strip().upper()
    errors = {}
    if not name:
        errors["name"] = "A project needs a name."
    elif len(name) > 100:
        errors["name"] = "Keep the name to 100 characters."
    if not key.isalnum() or not 1 <= len(key) <= 10:
        errors["key"] = "The key is 1 to 10 letters or digits, such as WEB."
    elif Project.objects.filter(application=application, key=key).exists():
        errors["key"] = f"{key} is taken in this workspace."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        project = Project(application=application, name=name, key=key)
        project.save()
    return project


def rename_project(*, project: Project, name: str) -> Project:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise ValidationError({"name": "A project name is 1 to 100 characters."})
    with transaction.atomic():
        project.name = name
        project.save(update_fields=["name"])
        live.publish_on_commit(project_id=project.pk, resync=True)
    return project


def _clean_column(project: Project, *, name: str, category: str, wip_limit, exclude_pk=None) -> dict:
    name = " ".join((name or "").split())
    errors = {}
    if not name or len(name) > 60:
        errors["name"] = "A column name is 1 to 60 characters."
    elif TaskStatus.objects.filter(project=project, name__iexact=name).exclude(pk=exclude_pk).exists():
        errors["name"] = f"There is already a column called “{name}”."
    if category not in Category.values:
        errors["category"] = "Pick one of: " + ", ".join(Category.values) + "."
    if wip_limit in ("", None):
        wip_limit = None
    else:
        try:
            wip_limit = int(wip_limit)
            if not 1 <= wip_limit <= 10000:
                raise ValueError
        except (TypeError, ValueError):
            errors["wip_limit"] = "A WIP limit is a whole number from 1 to 10000, or empty for none."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "category": category, "wip_limit": wip_limit}


@retry_on_deadlock
def add_column(*, project: Project, name: str, category: str, wip_limit=None, wip_hard=False) -> TaskStatus:
    """A new column at the right end of the board."""
    fields = _clean_column(project, name=name, category=category, wip_limit=wip_limit)
    with transaction.atomic():
        last = TaskStatus.objects.filter(project=project).aggregate(m=Max("position"))["m"]
        column = TaskStatus(
            project=project, position=0 if last is None else last + 1, wip_hard=bool(wip_hard), **fields
        )
        column.save()
        live.publish_on_commit(project_id=project.pk, resync=True)
    return column


@retry_on_deadlock
def update_column(
    *, project: Project, status_id, name: str, category: str, wip_limit=None, wip_hard=False, actor=None
) -> TaskStatus:
    """Rename a column, change its category (the counts follow) or its WIP limit."""
    with transaction.atomic():
        column = _column(project, status_id, for_update=True)
        fields = _clean_column(project, name=name, category=category, wip_limit=wip_limit, exclude_pk=column.pk)
        old_category = column.category
        for field, value in fields.items():
            setattr(column, field, value)
        column.wip_hard = bool(wip_hard)
        column.save()
        events = []
        if column.category != old_category:
            events.append(history.record_column_category(column, actor=actor, old_category=old_category))
        live.publish_on_commit(project_id=project.pk, resync=True, events=events)
    return column


@retry_on_deadlock
def reorder_columns(*, project: Project, status_ids: Sequence) -> list[TaskStatus]:
    """Put the board's columns in the given order; every column must be named once."""
    with transaction.atomic():
        columns = {c.pk: c for c in TaskStatus.objects.select_for_update().filter(project=project)}
        try:
            order = [int(pk) for pk in status_ids]
        except (TypeError, ValueError):
            raise ValidationError("The column order names columns that are not on this board.") from None
        if sorted(order) != sorted(columns):
            raise ValidationError("The board changed while you were reordering; reload and try again.")
        for position, pk in enumerate(order):
            columns[pk].position = position
        TaskStatus.objects.bulk_update(columns.values(), ["position"])
        columns_changed.send(sender=TaskStatus, project_id=project.pk)
        live.publish_on_commit(project_id=project.pk, resync=True)
    return sorted(columns.values(), key=lambda c: c.position)


@retry_on_deadlock
def delete_column(*, project: Project, status_id) -> None:
    """Delete an empty column; one that holds cards is refused with their number."""
    with transaction.atomic():
        column = _column(project, status_id, for_update=True)
        if TaskStatus.objects.filter(project=project).count() == 1:
            raise ValidationError("A board keeps at least one column.")
        column.delete()
        live.publish_on_commit(project_id=project.pk, resync=True)


def column_counts(project: Project) -> dict[int, int]:
    """Live cards per column of one project.

    A column alone in its category reads its count from the project's counts row (exact: kept in
    the same transaction as every write), read fresh in the same query as the columns, so a board
    costs the same at 100 cards and 100,000. Columns that share a category, or a project without a
    counts row, are counted with one GROUP BY over those columns only.
    """
    stored = [f"project__status_aggregation__{category}_tasks" for category in Category.values]
    rows = list(TaskStatus.objects.filter(project=project).values_list("pk", "category", *stored))
    per_category = Counter(category for _, category, *_ in rows)
    counts: dict[int, int] = {}
    recount = []
    for pk, category, *by_category in rows:
        value = by_category[Category.values.index(category)]
        if per_category[category] == 1 and value is not None:
            counts[pk] = value
        else:
            recount.append(pk)
    if recount:
        counts.update(dict.fromkeys(recount, 0))
        counts.update(
            Task.objects.live()
            .filter(project=project, task_status_id__in=recount)
            .values_list("task_status_id")
            .annotate(n=Count("id"))
            .order_by()
        )
    return counts
