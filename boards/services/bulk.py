"""Writes to many cards at once, with one UPDATE or INSERT: they bypass the model signals, so
each sends boards.signals.tasks_bulk_changed with the delta it applied."""

from collections import Counter
from collections.abc import Sequence

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Func, Max, PositiveIntegerField, Value, When

from boards import clock, history
from boards.live import events as live
from boards.models import Project, Task
from boards.queries import refuse_archived
from boards.services.base import clean_title, retry_on_deadlock
from boards.services.locks import _check_wip, _locked_tasks, _share_lock_columns
from boards.services.ranks import RANK_STEP
from boards.signals import tasks_bulk_changed


@retry_on_deadlock
def bulk_move_tasks(*, project: Project, task_ids: Sequence, status_id, actor=None) -> list[Task]:
    """Move many cards to the bottom of one column, in their current order, with one UPDATE."""
    refuse_archived(project)
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
                updated_at=clock.now(),
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
    refuse_archived(project)
    with transaction.atomic():
        tasks, _ = _locked_tasks(project, task_ids)
        to_archive = [task for task in tasks if not task.is_archived]
        now = clock.now()
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
    refuse_archived(project)
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
        first = history.take_card_numbers(project.pk, len(tasks)) if tasks else 0
        for offset, task in enumerate(tasks):
            task.number = first + offset
        Task.objects.counts_handled().bulk_create(tasks, batch_size=batch_size)
        tasks_bulk_changed.send(sender=Task, deltas=dict(deltas))
        events = history.record_bulk_created(tasks, statuses, actor=actor)
        live.publish_on_commit(project_id=project.pk, resync=True, events=events)
    return len(tasks)


def bulk_remove_label(*, project: Project, label_id: int) -> int:
    """Take a label's id off every card of the project that carries it (archived ones too), with one
    UPDATE that bumps their versions; returns how many. No counted field changes: no signal to send.
    Call inside atomic(), with the label locked (services.labels.delete_label)."""
    removed = Func(
        F("label_ids"), Value(label_id), function="array_remove", output_field=ArrayField(PositiveIntegerField())
    )
    return Task.objects.filter(project_id=project.pk, label_ids__contains=[label_id]).update(
        label_ids=removed, version=F("version") + 1
    )
