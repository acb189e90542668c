"""Every write to tasks, columns and projects: one function each, one transaction each.

Views, the admin, consumers and commands call these; none of them writes tasks itself. Counts
follow through the model signals (see aggregates.signals); the bulk operations, which bypass
those signals, send boards.signals.tasks_bulk_changed with the delta they applied.
"""

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import nullcontext

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import Case, Count, Max, Min, OuterRef, Q, Subquery, When
from django.utils import timezone

from aggregates import signals as agg_signals
from boards import history, live, locking
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


NO_COLUMN = {"task_status": "That column is not on this board (it may have been deleted)."}


def _column_id(status_id) -> int:
    try:
        return int(status_id)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(NO_COLUMN) from None


# Columns are locked FOR NO KEY UPDATE, never FOR UPDATE, when they stay: it still excludes the
# moves' FOR SHARE, but not the FOR KEY SHARE of the foreign-key checks that a committing writer
# runs on the columns its cards and its project's derived status point at. A FOR UPDATE there made
# a category change and a committing move wait for each other (a deadlock PostgreSQL broke).
def _column(project: Project, status_id, *, for_update: bool = False, for_delete: bool = False) -> TaskStatus:
    columns = TaskStatus.objects.all()
    if for_update or for_delete:
        columns = columns.select_for_update(no_key=not for_delete)
    try:
        return columns.get(pk=_column_id(status_id), project_id=project.pk)
    except TaskStatus.DoesNotExist:
        raise ValidationError(NO_COLUMN) from None


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
        locked = (
            TaskStatus.objects.select_for_update(no_key=True).filter(project_id=project.pk, pk__in=ids).order_by("pk")
        )
        column = {c.pk: c for c in locked}[column.pk]
    return column


def _task_id(task_id) -> int:
    try:
        return int(task_id)
    except (TypeError, ValueError, OverflowError):
        raise Task.DoesNotExist(GONE) from None


GONE = "That card no longer exists: someone may have deleted it."


def _locked_task(project: Project, task_id) -> Task:
    locked = Task.objects.select_for_update(of=("self",)).filter(pk=_task_id(task_id), project_id=project.pk)
    task = locked.select_related("task_status").first()
    # When a concurrent move commits while we wait for the lock, PostgreSQL rechecks the join
    # against the old column and drops the row: take the lock alone, then read again.
    if task is None and locked.exists():
        task = locked.select_related("task_status").first()
    if task is None:
        raise Task.DoesNotExist(GONE)
    return task


def _lock_card(
    project: Project, task_id, *, status_id=None, **place
) -> tuple[Task, TaskStatus, tuple | None, tuple | None]:
    """The card locked, with its column, and the column `status_id` (default: its own) locked for
    the move in id order, FOR UPDATE when its limit is hard; the card's stored state as the
    counts handler reads it, for _save_locked(); and with `place` (after_id, before_id) the
    neighbours of its new place, for _place().

    On PostgreSQL one statement (boards.locking); elsewhere step by step, and no state: the
    handler reads it itself.
    """
    task_id = _task_id(task_id)
    if status_id is not None:
        status_id = _column_id(status_id)
    if connection.vendor != "postgresql":
        task = _locked_task(project, task_id)
        column = _lock_column_if_limited(project, status_id or task.task_status_id, source_id=task.task_status_id)
        return task, column, None, None
    locked = locking.lock_card(project, task_id, target_id=status_id, place=bool(place), **place)
    if locked is None:
        raise Task.DoesNotExist(GONE)
    column = locked.target
    if column is None:
        raise ValidationError(NO_COLUMN)
    if column.wip_limit and column.wip_hard and not locked.exclusive:
        # The limit became hard after we looked: lock as _lock_column_if_limited does (rare).
        column = _lock_column_if_limited(project, column.pk, source_id=locked.task.task_status_id)
    return locked.task, column, locked.state(column), locked.neighbours


def _lock_new_card_column(project: Project, status_id) -> tuple[TaskStatus, tuple, tuple | None]:
    """The column a new card goes to, locked as _lock_column_if_limited does, with the lowest and
    highest rank of its live cards, and the counts handler's state (one statement on PostgreSQL)."""
    status_id = _column_id(status_id)
    if connection.vendor == "postgresql":
        locked = locking.lock_column(project, status_id)
        if locked is None:
            raise ValidationError(NO_COLUMN)
        if not (locked.column.wip_limit and locked.column.wip_hard) or locked.exclusive:
            return locked.column, (locked.top, locked.bottom), locked.state()
    column = _lock_column_if_limited(project, status_id)
    edge = (
        Task.objects.live()
        .filter(project_id=project.pk, task_status_id=column.pk)
        .aggregate(lo=Min("position"), hi=Max("position"))
    )
    return column, (edge["lo"], edge["hi"]), None


def _save_locked(task: Task, state: tuple | None, **save) -> None:
    """Save (or with delete=True delete) a card read by _lock_card, handing the counts handler
    the state read under the card's locks, just before the write that consumes it."""
    with agg_signals.handing_over(task, state) if state is not None else nullcontext():
        if save.pop("delete", False):
            task.delete()
        else:
            task.save(**save)


Spot = tuple[float, int] | None  # a card's (position, id) in a column, or none there


def _place(
    column: TaskStatus, *, after_id=None, before_id=None, moving_id=None, read: tuple | None = None
) -> tuple[float, int | None]:
    """A position between the new neighbours, and the card that will then be just above (None: the
    top); renumbers the column only when ranks run out. `read`: _neighbours' answer, read already
    (boards.locking reads it with the card's locks)."""
    anchor_id, above = (after_id, True) if after_id else (before_id, False)
    anchor, nearest, bottom = read or _neighbours(column, anchor_id, above=above, moving_id=moving_id)
    if anchor is None:  # no neighbour given, or it left the column meanwhile: the bottom
        if bottom is None:
            return 0.0, None
        return bottom[0] + RANK_STEP, bottom[1]
    next_position, next_id = nearest or (None, None)
    if above:
        low, high, previous = anchor[0], next_position, anchor[1]
    else:
        low, high, previous = next_position, anchor[0], next_id
    if low is None:
        return high - RANK_STEP, None
    if high is None:
        return low + RANK_STEP, previous
    if high - low < RANK_MIN_GAP:
        renumber_column(column)
        return _place(column, after_id=after_id, before_id=before_id, moving_id=moving_id)
    return (low + high) / 2, previous


def _neighbours(column: TaskStatus, anchor_id, *, above: bool, moving_id) -> tuple[Spot, Spot, Spot]:
    """The anchor card, its nearest card on the far side (below it when `above`: the card goes
    below the anchor), and the column's bottom card when the anchor is not in the column.
    One query, two when the anchor is missing."""
    # project_id too: the task_board_live index (project, task_status, position) then answers
    # each neighbour from one end of a range, instead of scanning the whole column.
    siblings = Task.objects.live().filter(project_id=column.project_id, task_status_id=column.pk).exclude(pk=moving_id)
    if anchor_id:
        here = OuterRef("position")
        if above:
            beyond = Q(position__gt=here) | Q(position=here, pk__gt=OuterRef("pk"))
            nearest = siblings.filter(beyond, position__gte=here).order_by("position", "pk")
        else:
            beyond = Q(position__lt=here) | Q(position=here, pk__lt=OuterRef("pk"))
            nearest = siblings.filter(beyond, position__lte=here).order_by("-position", "-pk")
        found = (
            siblings.filter(pk=anchor_id)
            .annotate(
                next_position=Subquery(nearest.values("position")[:1]),
                next_id=Subquery(nearest.values("pk")[:1]),
            )
            .values_list("position", "pk", "next_position", "next_id")
            .first()
        )
        if found is not None:
            position, pk, next_position, next_id = found
            return (position, pk), (None if next_id is None else (next_position, next_id)), None
    bottom = siblings.order_by("-position", "-pk").values_list("position", "pk").first()
    return None, None, bottom


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
        column, (top, bottom), state = _lock_new_card_column(project, status_id)
        _check_wip(column)
        if top is None:
            position = 0.0
        elif at_top:
            position = top - RANK_STEP
        else:
            position = bottom + RANK_STEP
        task = Task(
            project=project,
            task_status=column,
            title=title,
            description=description,
            assignee=assignee,
            reporter=reporter,
            position=position,
        )
        _save_locked(task, state)
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
    """Move a card to a column, below `after_id` or above `before_id` (neither: the bottom).

    The card comes back with `from_status_id`, its column before, and `previous_id`, the card
    now just above it (None: the top).
    """
    after_id, before_id = _neighbour_id(after_id), _neighbour_id(before_id)
    status_id = _column_id(status_id)  # required: None would mean the card's own column below
    with transaction.atomic():
        task, column, state, read = _lock_card(
            project, task_id, status_id=status_id, after_id=after_id, before_id=before_id
        )
        if task.is_archived:
            raise ValidationError("This card is archived: unarchive it before moving it.")
        from_status = task.task_status
        if column.pk != from_status.pk:
            _check_wip(column)
        task.position, previous_id = _place(
            column, after_id=after_id, before_id=before_id, moving_id=task.pk, read=read
        )
        task.task_status = column
        _save_locked(task, state, update_fields=["task_status", "position", "updated_at"])
        event = history.record_moved(task, actor=actor, from_status=from_status, to_status=column)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], column_ids=[from_status.pk], events=[event])
    task.from_status_id, task.previous_id = from_status.pk, previous_id
    return task


@retry_on_deadlock
def archive_task(*, project: Project, task_id, actor=None) -> Task:
    """Take a card off the board; it stays in the Archived view."""
    with transaction.atomic():
        task, _, state, _ = _lock_card(project, task_id)
        if not task.is_archived:
            task.archived_at = timezone.now()
            _save_locked(task, state, update_fields=["archived_at", "updated_at"])
            events = history.record_archived([task], actor=actor)
            live.publish_on_commit(
                project_id=project.pk, task_ids=[task.pk], column_ids=[task.task_status_id], events=events
            )
    return task


@retry_on_deadlock
def unarchive_task(*, project: Project, task_id, actor=None) -> Task:
    """Put an archived card back at the bottom of its column."""
    with transaction.atomic():
        task, column, state, read = _lock_card(project, task_id, after_id=None)  # to the bottom
        if task.is_archived:
            _check_wip(column)
            task.archived_at = None
            task.position, task.previous_id = _place(column, moving_id=task.pk, read=read)
            _save_locked(task, state, update_fields=["archived_at", "position", "updated_at"])
            event = history.record_unarchived(task, actor=actor)
            live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


@retry_on_deadlock
def delete_task(*, project: Project, task_id, actor=None) -> Task:
    """Delete a card for good."""
    with transaction.atomic():
        task, _, state, _ = _lock_card(project, task_id)
        task_id, was_live = task.pk, not task.is_archived
        column_id = task.task_status_id
        _save_locked(task, state, delete=True)
        event = history.record_deleted(task, actor=actor, task_id=task_id, was_live=was_live)
        live.publish_on_commit(project_id=project.pk, task_ids=[task_id], column_ids=[column_id], events=[event])
    return task


def _share_lock_columns(
    status_ids: Iterable[int] = (), *, project: Project | None = None, exclusive: bool = False
) -> dict[int, TaskStatus]:
    """Columns by id (or all of `project`), read under FOR SHARE (exclusive: FOR NO KEY UPDATE), in id
    order as every writer locks columns.

    Bulk writes bypass the model handlers: they take the same column locks, and count with the
    category read under the lock, which a concurrent category change cannot make stale.
    """
    status_ids = set(status_ids)
    if project is None and not status_ids:
        return {}
    columns = TaskStatus.objects.filter(project=project) if project else TaskStatus.objects.filter(pk__in=status_ids)
    if connection.features.has_select_for_update:
        sql, params = columns.order_by("pk").query.sql_with_params()
        columns = TaskStatus.objects.raw(f"{sql} {'FOR NO KEY UPDATE' if exclusive else 'FOR SHARE'}", params)
    return {column.pk: column for column in columns}


def _locked_tasks(project: Project, task_ids: Sequence, *, status_id=None) -> tuple[list[Task], TaskStatus | None]:
    """The tasks locked FOR UPDATE, each with its column, and the column `status_id` they go to:
    all these columns locked in one id-ordered statement, FOR SHARE, or FOR UPDATE when the
    target's limit is hard (as _lock_column_if_limited)."""
    try:
        ids = sorted({int(pk) for pk in task_ids})
    except (TypeError, ValueError):
        raise ValidationError("Some of the selected cards are not valid ids.") from None
    target = None if status_id is None else _column(project, status_id)
    # No join in the locking query: see _locked_task.
    tasks = list(Task.objects.select_for_update().filter(project_id=project.pk, pk__in=ids).order_by("pk"))
    if len(tasks) != len(ids):
        raise Task.DoesNotExist("Some of the selected cards no longer exist; nothing was changed.")
    wanted = {task.task_status_id for task in tasks} | ({target.pk} if target else set())
    hard = bool(target and target.wip_limit and target.wip_hard)
    columns = _share_lock_columns(wanted, exclusive=hard)
    if target and not hard and columns[target.pk].wip_limit and columns[target.pk].wip_hard:
        # The limit became hard after we looked: take the target as _lock_column_if_limited does.
        columns.update(_share_lock_columns(wanted, exclusive=True))
    for task in tasks:
        task.task_status = columns[task.task_status_id]
    return tasks, (columns[target.pk] if target else None)


@retry_on_deadlock
def bulk_move_tasks(*, project: Project, task_ids: Sequence, status_id, actor=None) -> list[Task]:
    """Move many cards to the bottom of one column, in their current order, with one UPDATE."""
    with transaction.atomic():
        tasks, column = _locked_tasks(project, task_ids, status_id=status_id)
        moving = [task for task in tasks if task.task_status_id != column.pk and not task.is_archived]
        sources = {task.task_status_id for task in moving}
        _check_wip(column, incoming=len(moving))
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
        tasks, _ = _locked_tasks(project, task_ids)
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
        locked = TaskStatus.objects.select_for_update(no_key=True).filter(project=project).order_by("pk")
        columns = {c.pk: c for c in locked}
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
        column = _column(project, status_id, for_delete=True)
        if TaskStatus.objects.filter(project=project).count() == 1:
            raise ValidationError("A board keeps at least one column.")
        column.delete()
        live.publish_on_commit(project_id=project.pk, resync=True)


def column_counts(project: Project, columns: Sequence[TaskStatus] | None = None) -> dict[int, int]:
    """Live cards per column of one project.

    A column alone in its category reads its count from the project's counts row (exact: kept in
    the same transaction as every write), read fresh in the same query as the columns, so a board
    costs the same at 100 cards and 100,000. Columns that share a category, or a project without a
    counts row, are counted with one GROUP BY over those columns only. `columns`: all of the
    project's columns, already read with `project` and its counts row (fragments.board_state).
    """
    if columns is None:
        stored = [f"project__status_aggregation__{category}_tasks" for category in Category.values]
        rows = list(TaskStatus.objects.filter(project=project).values_list("pk", "category", *stored))
    else:
        agg = getattr(project, "status_aggregation", None)
        stored = [getattr(agg, f"{category}_tasks", None) for category in Category.values]
        rows = [(column.pk, column.category, *stored) for column in columns]
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
