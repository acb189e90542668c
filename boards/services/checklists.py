"""Ticking a card's checklist: the task list items (`- [ ]`) of its description, one versioned
write each, so a click made on a stale copy cannot overwrite someone's edit of the text."""

from django.core.exceptions import ValidationError
from django.db import transaction

from boards import history, text
from boards.live import events as live
from boards.models import Project, Task
from boards.queries import refuse_archived
from boards.services.base import StaleVersion, retry_on_deadlock
from boards.services.locks import _locked_task

STALE = (
    "Someone else changed this card after you opened it, so the checklist was not changed. "
    "It now shows their version: tick the item again if it still needs it."
)


def _progress(task: Task) -> str:
    return f"{task.checklist_done}/{task.checklist_total}"


@retry_on_deadlock
def set_checklist_items(*, project: Project, task_id, version, items: dict[int, bool], actor=None) -> Task:
    """Tick (True) or clear (False) the description's task items by index, as render() counts
    them; refused (StaleVersion) unless `version` is the card's version. Unchanged items cost nothing."""
    refuse_archived(project)
    try:
        version = int(version)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("This change names no valid version of the card; reload it and try again.") from None
    with transaction.atomic():
        task = _locked_task(project, task_id)
        if version != task.version:
            raise StaleVersion(STALE)
        if task.is_archived:
            raise ValidationError("This card is archived: unarchive it before ticking its checklist.")
        description = task.description
        try:
            for index, done in sorted(items.items()):
                description = text.set_task_item(description, index, done)
        except IndexError:
            raise ValidationError("The card's checklist has no such item; reload the card.") from None
        if description == task.description:
            return task
        before = _progress(task)
        task.description = description
        task.version += 1
        task.save(update_fields=["description", "version", "updated_at"])
        event = history.record_edited(task, actor=actor, changes={"checklist": (before, _progress(task))})
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return task


def toggle_checklist_item(*, project: Project, task_id, version, index: int, done: bool, actor=None) -> Task:
    """Tick or clear the `index`-th task item of the card's description (see set_checklist_items)."""
    return set_checklist_items(project=project, task_id=task_id, version=version, items={index: done}, actor=actor)
