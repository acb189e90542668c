"""A card moving to another project: its counts, number, old key, labels and history follow.

Who may: whoever can edit both projects (owners and editors), in one workspace or two; the views
check each project with get_project_for(edit=True). Across workspaces the assignee is kept only
when they are a member of the new one. Comments, attachments and mentions stay with the card.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min

from boards import history
from boards.live import events as live
from boards.models import CardNumberSequence, Category, KeyRedirect, Membership, Project, Task, TaskStatus
from boards.queries import check_can_edit, refuse_archived
from boards.services.base import retry_on_deadlock
from boards.services.locks import _check_wip, _lock_column_if_limited, _locked_task, _share_lock_columns
from boards.services.ranks import RANK_STEP


def _target_column_id(target: Project, status_id) -> int:
    """The chosen column, else the target's first todo column (by position), else its first."""
    if status_id not in (None, ""):
        return status_id
    columns = TaskStatus.objects.filter(project_id=target.pk).order_by("position", "pk")
    first = columns.filter(category=Category.TODO).values_list("pk", flat=True).first()
    first = first or columns.values_list("pk", flat=True).first()
    if first is None:
        raise ValidationError(f"{target.key} has no column to put the card in.")
    return first


def _number_in(target: Project, task: Task) -> int:
    """The card's number in the target: its own when the target never gave that number to a card
    that is still there or left with it (and has given numbers that far), else the next one.
    The target's sequence row is locked first, so two cards arriving cannot both keep one number."""
    last = (
        CardNumberSequence.objects.select_for_update()
        .filter(project_id=target.pk)
        .values_list("last_number", flat=True)
        .first()
    )
    number = task.number
    if last is not None and number <= last:
        taken = Task.objects.filter(project_id=target.pk, number=number).exists() or (
            KeyRedirect.objects.filter(project_id=target.pk, number=number).exclude(task_id=task.pk).exists()
        )
        if not taken:
            return number
    return history.take_card_numbers(target.pk)


def _may_stay_assigned(task: Task, project: Project, target: Project) -> bool:
    if not task.assignee_id or target.application_id == project.application_id:
        return True
    return Membership.objects.filter(application_id=target.application_id, user_id=task.assignee_id).exists()


@retry_on_deadlock
def move_task_to_project(*, project: Project, task_id, target: Project, status_id=None, actor=None) -> Task:
    """Move a live card of `project` to a column of `target` (default: its first todo column), at
    the top. Both projects come from get_project_for (with the user's role); both must be editable."""
    for each in (project, target):
        refuse_archived(each)
        check_can_edit(each)
    if target.pk == project.pk:
        raise ValidationError("The card is in this project already: choose another one.")
    with transaction.atomic():
        task = _locked_task(project, task_id)
        if task.is_archived:
            raise ValidationError("This card is archived: unarchive it before moving it to another project.")
        column = _lock_column_if_limited(target, _target_column_id(target, status_id))
        _check_wip(column)
        from_status, old_number = task.task_status, task.number
        top = Task.objects.live().filter(task_status_id=column.pk).aggregate(top=Min("position"))["top"]
        # Both columns share-locked in id order, as the counts handler locks them, before the
        # number row: every writer takes card numbers after its column locks.
        _share_lock_columns({from_status.pk, column.pk})
        task.number = _number_in(target, task)
        # The old key opens the card where it is now; a card coming home takes its key back.
        KeyRedirect.objects.filter(project_id=target.pk, number=task.number, task_id=task.pk).delete()
        KeyRedirect.objects.create(project_id=project.pk, number=old_number, task_id=task.pk)
        if not _may_stay_assigned(task, project, target):
            task.assignee = None
        task.project, task.task_status = target, column
        task.position = 0.0 if top is None else top - RANK_STEP
        task.label_ids = []  # labels belong to a project
        task.version += 1
        task.save(
            update_fields=[
                "project",
                "task_status",
                "position",
                "number",
                "label_ids",
                "assignee",
                "version",
                "updated_at",
            ]
        )
        out, arrived = history.record_moved_to_project(
            task,
            actor=actor,
            from_project_id=project.pk,
            from_status=from_status,
            from_key=f"{project.key}-{old_number}",
            to_key=f"{target.key}-{task.number}",
        )
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], column_ids=[from_status.pk], events=[out])
        live.publish_on_commit(project_id=target.pk, task_ids=[task.pk], column_ids=[column.pk], events=[arrived])
    task.from_status_id, task.from_number = from_status.pk, old_number
    return task
