"""Writes to one card: create, edit, move, archive, unarchive, delete. One transaction each.

Each takes the card's locks with one statement (services.locks), and hands what it read there to
the counts handlers (boards.signals.handing_over), which then neither lock nor read the card again.
"""

from contextlib import nullcontext
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from boards import clock, history, queries
from boards.live import events as live
from boards.models import Label, Priority, Project, Task
from boards.queries import refuse_archived
from boards.services.base import (
    StaleVersion,
    _column_id,
    clean_description,
    clean_title,
    retry_on_deadlock,
)
from boards.services.labels import project_label_ids
from boards.services.locks import _check_wip, _lock_card, _lock_new_card_column, _locked_task
from boards.services.mentions import record_mentions
from boards.services.ranks import RANK_STEP, _place, _place_back
from boards.signals import HandedState, handing_over


def _save_locked(task: Task, state: HandedState | None, **save) -> None:
    """Save (or with delete=True delete) a card read by _lock_card, handing the counts handler
    the state read under the card's locks, just before the write that consumes it."""
    with handing_over(task, state) if state is not None else nullcontext():
        if save.pop("delete", False):
            task.delete()
        else:
            task.save(**save)


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
    label_ids=(),
    priority=...,
    due_date=...,
    due_at=...,
    actor=None,
) -> Task:
    """A new card at the top (or bottom) of a column, with labels and planning as update_task takes them."""
    refuse_archived(project)
    title = clean_title(title)
    description = clean_description(description)
    planning = clean_planning(priority=priority, due_date=due_date, due_at=due_at)
    with transaction.atomic():
        column, (top, bottom), state = _lock_new_card_column(project, status_id)
        _check_wip(column)
        if label_ids:
            planning["label_ids"] = project_label_ids(project, label_ids)
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
            number=history.take_card_numbers(project.pk),
            **planning,
        )
        _save_locked(task, state)
        event = history.record_created(task, actor=actor or reporter)
        record_mentions(project=project, task=task, html=task.description_html, actor=actor or reporter)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


def clean_planning(*, priority=..., due_date=..., due_at=...) -> dict:
    """The planning fields an edit changes (priority, due_date, due_at), checked; ... leaves one out.
    A due time without a day is refused, and a day without a time clears the time."""
    changes = {}
    if priority is not ...:
        if isinstance(priority, bool) or priority not in Priority.values:
            raise ValidationError("Pick a priority: none, low, medium, high or urgent.")
        changes["priority"] = int(priority)
    if due_date is not ...:
        if due_date is not None and (not isinstance(due_date, date) or isinstance(due_date, datetime)):
            raise ValidationError("A due date is a day, such as 2026-03-31.")
        changes["due_date"] = due_date
        if due_at is ...:
            due_at = None  # a new day without a time: no time
    if due_at is not ...:
        if due_at is not None:
            if not isinstance(due_at, datetime) or due_at.tzinfo is None:
                raise ValidationError("A due time needs its time zone.")
            if changes.get("due_date", ...) in (None, ...):
                raise ValidationError("A due time needs a due date.")
        changes["due_at"] = due_at
    return changes


def _due_text(day, moment) -> str | None:
    if moment is not None:
        return moment.isoformat()
    return day.isoformat() if day else None


def planning_edits(project: Project, task: Task, edits: dict) -> dict:
    """What the history keeps of an edit of `task` (already changed): label names instead of ids,
    the priority's name, the due day or instant as one text."""
    edits = dict(edits)
    if "label_ids" in edits:
        old, new = edits.pop("label_ids")
        names = {label.pk: label.name for label in Label.objects.filter(project_id=project.pk, pk__in={*old, *new})}
        edits["labels"] = tuple(sorted((names.get(pk, f"#{pk}") for pk in ids), key=str.lower) for ids in (old, new))
    if "priority" in edits:
        edits["priority"] = tuple(Priority(value).label for value in edits["priority"])
    if "due_date" in edits or "due_at" in edits:
        old_day = edits.pop("due_date", (task.due_date,))[0]
        old_at = edits.pop("due_at", (task.due_at,))[0]
        edits["due"] = (_due_text(old_day, old_at), _due_text(task.due_date, task.due_at))
    return edits


@retry_on_deadlock
def update_task(
    *,
    project: Project,
    task_id,
    version: int,
    title=None,
    description=None,
    assignee=...,
    label_ids=...,
    priority=...,
    due_date=...,
    due_at=...,
    actor=None,
) -> Task:
    """Edit a card's text, assignee, labels (ids of the project's labels), priority and due date
    (due_at: the instant, when a time was given; it needs due_date); refuses an edit made on a
    stale copy. A parameter left out (...) is left as it is."""
    refuse_archived(project)
    changes = {}
    if title is not None:
        changes["title"] = clean_title(title)
    if description is not None:
        changes["description"] = clean_description(description)
    changes |= clean_planning(priority=priority, due_date=due_date, due_at=due_at)
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
        if label_ids is not ...:
            changes["label_ids"] = project_label_ids(project, label_ids or [])
        changed = [field for field, value in changes.items() if getattr(task, field) != value]
        if not changed:
            return task
        edits = {field: (getattr(task, field), changes[field]) for field in changed}
        for field in changed:
            setattr(task, field, changes[field])
        task.version += 1
        task.save(update_fields=[*changed, "version", "updated_at"])
        event = history.record_edited(task, actor=actor, changes=planning_edits(project, task, edits))
        if "description" in changed:
            record_mentions(project=project, task=task, html=task.description_html, actor=actor)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


@retry_on_deadlock
def assign_task_to(*, project: Project, task_id, user) -> Task:
    """Assign the card to `user` (a member who may edit: the caller checked), whatever its version:
    one field, so it cannot overwrite anyone's text (the board's `a` key: "assign me")."""
    refuse_archived(project)
    with transaction.atomic():
        task = _locked_task(project, task_id)
        if task.is_archived:
            raise ValidationError("This card is archived: unarchive it to assign it.")
        if task.assignee_id == user.pk:
            return task
        edits = {"assignee_id": (task.assignee_id, user.pk)}
        task.assignee = user  # the card face shows them: no query to load them again
        task.version += 1
        task.save(update_fields=["assignee_id", "version", "updated_at"])
        event = history.record_edited(task, actor=user, changes=planning_edits(project, task, edits))
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


def _lane_changes(project: Project, task: Task, lane: tuple[str, object]) -> dict:
    """The fields a drop into another lane of a grouped board changes (queries.Grouping):

    - assignee: the lane's member, or nobody;
    - priority: the lane's priority (0: none);
    - label: the card sits in the lane of its first label (by name); the drop replaces that label
      with the lane's, keeping its other labels (a card in "No label" gains it). Dropped in "No
      label", the card loses all its labels: it ends where it was dropped. When one of the labels
      it keeps comes before the new one by name, the card then shows in that label's lane.
    """
    kind, value = lane
    if kind == "assignee":
        return {"assignee_id": getattr(value, "pk", value)}
    if kind == "priority":
        return clean_planning(priority=value)
    if kind != "label":
        raise ValidationError("Group the board by assignee, label or priority.")
    if value is None:
        return {"label_ids": []}
    rule = queries.grouping("label", {label.pk: label for label in Label.objects.filter(project_id=project.pk)})
    current = rule.key_of(task)
    kept = [pk for pk in task.label_ids if pk != current]
    return {"label_ids": project_label_ids(project, [*kept, value])}


@retry_on_deadlock
def move_task(
    *,
    project: Project,
    task_id,
    status_id,
    after_id=None,
    before_id=None,
    actor=None,
    lane: tuple[str, object] | None = None,
    version: int | None = None,
) -> Task:
    """Move a card to a column, below `after_id` or above `before_id` (neither: the bottom).
    `version`, when given (the REST API's clients, a drop into another lane), must be the card's:
    checked under its lock.

    On a grouped board a drop into another lane also sets what the lane stands for, in the same
    transaction: `lane` is (kind, value), ("assignee", a member or None), ("label", a label id or
    None) or ("priority", 0 to 4), see _lane_changes. Such a move is an edit: with `version` given,
    it is refused (StaleVersion) when the card changed since the page showed it, and it gives the
    card a new version. WIP limits count every card of the column, whatever its lane.

    The card comes back with `from_status_id`, its column before, and `previous_id`, the card
    now just above it (None: the top).
    """
    refuse_archived(project)
    after_id, before_id = _neighbour_id(after_id), _neighbour_id(before_id)
    status_id = _column_id(status_id)  # required: None would mean the card's own column below
    with transaction.atomic():
        task, column, state, read = _lock_card(
            project, task_id, status_id=status_id, after_id=after_id, before_id=before_id
        )
        if version is not None and int(version) != task.version:
            raise StaleVersion(
                "Someone else changed this card after your board showed it: the board now shows it as it is."
                if lane is not None
                else "Someone else changed this card after you read it: read it again before moving it."
            )
        if task.is_archived:
            raise ValidationError("This card is archived: unarchive it before moving it.")
        edits = {}
        if lane is not None:
            changes = _lane_changes(project, task, lane)
            edits = {
                field: (getattr(task, field), new) for field, new in changes.items() if getattr(task, field) != new
            }
        from_status = task.task_status
        if column.pk != from_status.pk:
            _check_wip(column)
        task.position, previous_id = _place(
            column, after_id=after_id, before_id=before_id, moving_id=task.pk, read=read
        )
        task.task_status = column
        fields = ["task_status", "position", "updated_at"]
        if edits:
            for field, (_, new) in edits.items():
                setattr(task, field, new)
            if "assignee_id" in edits:
                task.assignee = lane[1]  # the card face shows them: no query to load them again
            task.version += 1
            fields += [*edits, "version"]
        _save_locked(task, state, update_fields=fields)
        if edits:
            events = history.record_moved_and_edited(
                task,
                actor=actor,
                from_status=from_status,
                to_status=column,
                changes=planning_edits(project, task, edits),
            )
        else:
            events = [history.record_moved(task, actor=actor, from_status=from_status, to_status=column)]
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], column_ids=[from_status.pk], events=events)
    task.from_status_id, task.previous_id = from_status.pk, previous_id
    task.lane_edits = edits
    return task


@retry_on_deadlock
def archive_task(*, project: Project, task_id, actor=None) -> Task:
    """Take a card off the board; it stays in the Archived view."""
    refuse_archived(project)
    with transaction.atomic():
        task, _, state, _ = _lock_card(project, task_id)
        if not task.is_archived:
            task.archived_at = clock.now()
            _save_locked(task, state, update_fields=["archived_at", "updated_at"])
            events = history.record_archived([task], actor=actor)
            live.publish_on_commit(
                project_id=project.pk, task_ids=[task.pk], column_ids=[task.task_status_id], events=events
            )
    return task


@retry_on_deadlock
def unarchive_task(*, project: Project, task_id, actor=None) -> Task:
    """Put an archived card back in its column where it was (ranks._place_back): between the
    same neighbours when they are still next to each other, else the nearest place there is."""
    refuse_archived(project)
    with transaction.atomic():
        task, column, state, (above, below) = _lock_card(project, task_id, restore=True)
        if task.is_archived:
            _check_wip(column)
            task.archived_at = None
            task.position, task.previous_id = _place_back(column, above, below, moving_id=task.pk)
            _save_locked(task, state, update_fields=["archived_at", "position", "updated_at"])
            event = history.record_unarchived(task, actor=actor)
            live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


@retry_on_deadlock
def delete_task(*, project: Project, task_id, actor=None) -> Task:
    """Delete a card for good."""
    refuse_archived(project)
    with transaction.atomic():
        task, _, state, _ = _lock_card(project, task_id)
        task_id, was_live = task.pk, not task.is_archived
        column_id = task.task_status_id
        _save_locked(task, state, delete=True)
        event = history.record_deleted(task, actor=actor, task_id=task_id, was_live=was_live)
        live.publish_on_commit(project_id=project.pk, task_ids=[task_id], column_ids=[column_id], events=[event])
    return task
