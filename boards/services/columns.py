"""Writes to a board's columns: add, edit (a category change moves its counts), reorder, delete."""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from boards import history
from boards.live import events as live
from boards.models import Category, Project, TaskStatus
from boards.queries import refuse_archived
from boards.services.base import retry_on_deadlock, unique_or_refused
from boards.services.locks import _column
from boards.signals import columns_changed


def _name_taken(name: str) -> dict:
    """The refusal of a name another column of the board has in any case: the unique constraint on
    (project, lower(name)) decides, so two people adding "QA" and "qa" at once get one column."""
    return {"taskstatus_unique_name": {"name": f"There is already a column called “{name}”."}}


def _clean_column(project: Project, *, name: str, category: str, wip_limit, exclude_pk=None) -> dict:
    name = " ".join((name or "").split())
    errors = {}
    if not name or len(name) > 60:
        errors["name"] = "A column name is 1 to 60 characters."
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
    refuse_archived(project)
    fields = _clean_column(project, name=name, category=category, wip_limit=wip_limit)
    with transaction.atomic():
        last = TaskStatus.objects.filter(project=project).aggregate(m=Max("position"))["m"]
        column = TaskStatus(
            project=project, position=0 if last is None else last + 1, wip_hard=bool(wip_hard), **fields
        )
        with unique_or_refused(_name_taken(column.name)):
            column.save()
        live.publish_on_commit(project_id=project.pk, resync=True)
    return column


@retry_on_deadlock
def update_column(
    *, project: Project, status_id, name: str, category: str, wip_limit=None, wip_hard=False, actor=None
) -> TaskStatus:
    """Rename a column, change its category (the counts follow) or its WIP limit."""
    refuse_archived(project)
    with transaction.atomic():
        column = _column(project, status_id, for_update=True)
        fields = _clean_column(project, name=name, category=category, wip_limit=wip_limit, exclude_pk=column.pk)
        old_category = column.category
        for field, value in fields.items():
            setattr(column, field, value)
        column.wip_hard = bool(wip_hard)
        with unique_or_refused(_name_taken(column.name)):
            column.save()
        events = []
        if column.category != old_category:
            events.append(history.record_column_category(column, actor=actor, old_category=old_category))
        live.publish_on_commit(project_id=project.pk, resync=True, events=events)
    return column


@retry_on_deadlock
def reorder_columns(*, project: Project, status_ids: Sequence) -> list[TaskStatus]:
    """Put the board's columns in the given order; every column must be named once."""
    refuse_archived(project)
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
    refuse_archived(project)
    with transaction.atomic():
        column = _column(project, status_id, for_delete=True)
        if TaskStatus.objects.filter(project=project).count() == 1:
            raise ValidationError("A board keeps at least one column.")
        column.delete()
        live.publish_on_commit(project_id=project.pk, resync=True)
