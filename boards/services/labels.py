"""Writes to a project's labels: create, rename or recolour, delete (taking the label off every card).

Cards hold label ids (Task.label_ids); which labels a card carries is set by cards.update_task.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from boards.live import events as live
from boards.models import LABEL_COLOURS, Label, Project
from boards.queries import refuse_archived
from boards.services.base import retry_on_deadlock, unique_or_refused
from boards.services.bulk import bulk_remove_label

LABEL_NAME_MAX = Label._meta.get_field("name").max_length
COLOURS = [value for value, _ in LABEL_COLOURS]


def _name_taken(name: str) -> dict:
    return {"label_unique_name": {"name": f"There is already a label called “{name}”."}}


def clean_label(*, name: str, colour: str) -> dict:
    """The label's fields, trimmed and checked; ValidationError naming the field otherwise."""
    name = " ".join((name or "").split())
    errors = {}
    if not name or len(name) > LABEL_NAME_MAX:
        errors["name"] = f"A label name is 1 to {LABEL_NAME_MAX} characters."
    if colour not in COLOURS:
        errors["colour"] = "Pick one of the label colours."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "colour": colour}


def _label(project: Project, label_id, *, for_update: bool = False) -> Label:
    labels = Label.objects.filter(project_id=project.pk)
    if for_update:
        labels = labels.select_for_update()
    try:
        label = labels.filter(pk=int(label_id)).first()
    except (TypeError, ValueError, OverflowError):
        label = None
    if label is None:
        raise ValidationError("This label no longer exists: someone deleted it.")
    return label


@retry_on_deadlock
def create_label(*, project: Project, name: str, colour: str) -> Label:
    """A new label of the project."""
    refuse_archived(project)
    fields = clean_label(name=name, colour=colour)
    with transaction.atomic():
        label = Label(project=project, **fields)
        with unique_or_refused(_name_taken(label.name)):
            label.save()
    return label


@retry_on_deadlock
def update_label(*, project: Project, label_id, name: str, colour: str) -> Label:
    """Rename or recolour a label; every card face carrying it shows the change."""
    refuse_archived(project)
    fields = clean_label(name=name, colour=colour)
    with transaction.atomic():
        label = _label(project, label_id, for_update=True)
        if (label.name, label.colour) == (fields["name"], fields["colour"]):
            return label
        label.name, label.colour = fields["name"], fields["colour"]
        with unique_or_refused(_name_taken(label.name)):
            label.save(update_fields=["name", "colour"])
        # Chips on every card: the open boards fetch themselves again.
        live.publish_on_commit(project_id=project.pk, resync=True)
    return label


@retry_on_deadlock
def delete_label(*, project: Project, label_id) -> Label:
    """Delete a label and take its id off every card of the project, in one transaction; those
    cards get a new version (an editor open on one of them must reload before saving labels)."""
    refuse_archived(project)
    with transaction.atomic():
        label = _label(project, label_id, for_update=True)
        pk = label.pk
        bulk_remove_label(project=project, label_id=pk)
        label.delete()
        label.pk = pk
        live.publish_on_commit(project_id=project.pk, resync=True)
    return label


def project_label_ids(project: Project, label_ids) -> list[int]:
    """The given ids, each a label of this project, sorted and without repeats; ValidationError
    when one is not (another project's, or deleted meanwhile). Call inside atomic()."""
    wanted = sorted(set(label_ids))
    if not wanted:
        return []
    found = set(Label.objects.filter(project_id=project.pk, pk__in=wanted).values_list("pk", flat=True))
    if found != set(wanted):
        raise ValidationError(
            "One of the chosen labels is not a label of this project (it may have been deleted); "
            "reload the card and pick again."
        )
    return wanted
