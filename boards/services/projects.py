"""Writes to projects: create (with its default columns and counts row), rename, archive and
unarchive, move to another workspace, delete (with everything under it). Each is recorded in the
workspace's history (services.workspace_log)."""

import re
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from boards.live import events as live
from boards.models import (
    PROJECT_KEY_MESSAGE,
    PROJECT_KEY_PATTERN,
    Application,
    Comment,
    KeyRedirect,
    Membership,
    Mention,
    Project,
    Task,
    TaskEvent,
    TaskStatus,
    WorkspaceEvent,
)
from boards.queries import ReadOnly, refuse_archived
from boards.services import attachments, workspace_log
from boards.services.base import retry_on_deadlock, unique_or_refused
from boards.services.columns import _clean_column
from boards.signals import columns_changed

Kind = WorkspaceEvent.Kind
NAME_MAX = Project._meta.get_field("name").max_length
OWNERS_ONLY = "Only the workspace's owners can change its projects."


def clean_project_name(name) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"Keep the name to {NAME_MAX} characters."})
    return name


def clean_project_key(key) -> str:
    key = (key or "").strip()
    # Checked before upper(): "ı".upper() is "I", and a look-alike must not pass as a letter.
    if not re.fullmatch(PROJECT_KEY_PATTERN, key):
        raise ValidationError({"key": PROJECT_KEY_MESSAGE})
    return key.upper()


def check_owner(actor, application_id: int, *, staff: bool = False) -> None:
    """ReadOnly unless `actor` owns the workspace, read under a share lock: a demotion committed
    meanwhile waits for this change, or this change sees it. Call inside atomic().

    staff=True: the admin, which checked its own permissions, acts; nothing to check here."""
    if staff:
        return
    role = (
        Membership.objects.select_for_update(no_key=True)
        .filter(user_id=getattr(actor, "pk", None), application_id=application_id)
        .values_list("role", flat=True)
        .first()
    )
    if role != Membership.Role.OWNER:
        raise ReadOnly(OWNERS_ONLY)


def _locked(project: Project) -> Project:
    """The project's row, locked and read fresh; Project.DoesNotExist when it is gone."""
    locked = Project.objects.select_for_update().select_related("application").filter(pk=project.pk).first()
    if locked is None:
        raise Project.DoesNotExist("This project no longer exists: someone may have deleted it.")
    return locked


def create_project(
    *, application: Application, name: str, key: str, actor=None, columns: Sequence[tuple[str, str]] = ()
) -> Project:
    """A project with its counts row and the five default columns, or `columns` ((name, category)
    pairs, left to right; an import's lists) instead of them."""
    errors = {}
    try:
        name = clean_project_name(name)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        key = clean_project_key(key)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(), unique_or_refused({"project_unique_key": {"key": f"{key} is taken in this workspace."}}):
        project = Project(application=application, name=name, key=key)
        project.save()
        if columns:
            _replace_columns(project, columns)
        workspace_log.record(application, Kind.PROJECT_CREATED, actor, subject_name=str(project), project_id=project.pk)
    return project


def _replace_columns(project: Project, columns: Sequence[tuple[str, str]]) -> None:
    """The new project's columns instead of the default ones. Call inside atomic(), before any card."""
    cleaned = [_clean_column(project, name=name, category=category, wip_limit=None) for name, category in columns]
    if len({column["name"].lower() for column in cleaned}) < len(cleaned):
        raise ValidationError("Two columns of the new board have the same name.")
    TaskStatus.objects.filter(project=project).delete()  # a new project: no card holds them
    TaskStatus.objects.bulk_create(
        TaskStatus(project=project, position=index, **fields) for index, fields in enumerate(cleaned)
    )
    columns_changed.send(sender=Project, project_id=project.pk)


def rename_project(*, project: Project, name: str, actor=None) -> Project:
    """A new name for the project (its key stays); the name it had is read from its locked row."""
    name = clean_project_name(name)
    refuse_archived(project)
    with transaction.atomic():
        locked = _locked(project)
        refuse_archived(locked)
        if locked.name != name:
            old, locked.name = locked.name, name
            locked.save(update_fields=["name"])
            workspace_log.record(
                locked.application, Kind.PROJECT_RENAMED, actor, subject_name=str(locked), old_name=old, new_name=name
            )
            live.publish_on_commit(project_id=locked.pk, resync=True)
    project.name = name
    return project


@retry_on_deadlock
def archive_project(*, project: Project, actor) -> Project:
    """Make the project read-only for everyone and hide it from home; its cards and counts stay."""
    with transaction.atomic():
        locked = _locked(project)
        check_owner(actor, locked.application_id)
        if locked.archived_at is None:
            locked.archived_at = timezone.now()
            locked.save(update_fields=["archived_at"])
            workspace_log.record(
                locked.application, Kind.PROJECT_ARCHIVED, actor, subject_name=str(locked), project_id=locked.pk
            )
            live.publish_on_commit(project_id=locked.pk, resync=True)  # open boards turn read-only
    return locked


@retry_on_deadlock
def unarchive_project(*, project: Project, actor) -> Project:
    """Bring an archived project back: on home again, and writable."""
    with transaction.atomic():
        locked = _locked(project)
        check_owner(actor, locked.application_id)
        if locked.archived_at is not None:
            locked.archived_at = None
            locked.save(update_fields=["archived_at"])
            workspace_log.record(
                locked.application, Kind.PROJECT_UNARCHIVED, actor, subject_name=str(locked), project_id=locked.pk
            )
            live.publish_on_commit(project_id=locked.pk, resync=True)
    return locked


@retry_on_deadlock
def move_project(*, project: Project, target: Application, actor, key: str = "") -> Project:
    """Move the project, its cards, counts and history, to another workspace the actor owns too.

    `key`, when given, replaces the project's key (it must be free in the target workspace). The
    board's open sockets check their user's membership of the target workspace again: those of
    people who are not members there are closed."""
    new_key = clean_project_key(key) if key else None
    with transaction.atomic():
        locked = _locked(project)
        source = locked.application
        # Both memberships in workspace id order: two moves in opposite directions cannot deadlock.
        for application_id in sorted({source.pk, target.pk}):
            check_owner(actor, application_id)
        if target.pk == source.pk:
            raise ValidationError({"application": "The project is already in that workspace."})
        locked.key = new_key or locked.key
        taken = f"{locked.key} is taken in {target.name}: give the project a new key to move it."
        with unique_or_refused({"project_unique_key": {"key": taken}}):
            locked.application = target
            locked.save(update_fields=["application", "key"])
        moved = {"project_id": locked.pk, "key": locked.key}
        workspace_log.record(
            source,
            Kind.PROJECT_MOVED_OUT,
            actor,
            subject_name=str(locked),
            to_id=target.pk,
            to_name=target.name,
            **moved,
        )
        workspace_log.record(
            target,
            Kind.PROJECT_MOVED_IN,
            actor,
            subject_name=str(locked),
            from_id=source.pk,
            **{"from": source.name},
            **moved,
        )
        project_id, target_id = locked.pk, target.pk
        transaction.on_commit(lambda: live.publish_board_moved(project_id, target_id), robust=True)
    return locked


@retry_on_deadlock
def delete_project(*, project: Project, actor, staff: bool = False) -> int:
    """Delete the project with its columns, cards, history and counts row; the number of cards it
    had. Owners only (staff=True: the admin, which checked its own permissions)."""
    with transaction.atomic():
        locked = _locked(project)
        check_owner(actor, locked.application_id, staff=staff)
        cards = Task.objects.filter(project_id=locked.pk).count()
        workspace_log.record(
            locked.application,
            Kind.PROJECT_DELETED,
            actor,
            subject_name=str(locked),
            project_id=locked.pk,
            key=locked.key,
            cards=cards,
        )
        delete_projects([locked.pk])
    return cards


def delete_projects(project_ids: list[int]) -> None:
    """Delete these projects and everything under them. Call inside atomic(), the projects locked.

    Django's cascade would load every card, descriptions included, to send it a delete signal
    whose counts handler does nothing when the card goes with its project (aggregates.signals
    _deleting_project): the counts row goes too. So the history and the cards go first, one
    statement each (the history first: the database would otherwise set each event's task to
    NULL just before deleting it), then the projects, whose cascade finds no card left and
    takes the columns, counts rows, sequences and snapshots."""
    if not project_ids:
        return
    TaskEvent.objects.filter(project_id__in=project_ids).delete()  # no signals: one DELETE
    attachments.delete_attachments_of_projects(project_ids)  # before their cards; files on commit
    # The cards' mentions and comments go with them, one statement each: the raw DELETE of the
    # cards below runs no cascade, and their rows would be left pointing at no card.
    Mention.objects.filter(task__project_id__in=project_ids).delete()
    # Old keys elsewhere that lead to these cards (cards that moved in) go too.
    KeyRedirect.objects.filter(task__project_id__in=project_ids).delete()
    comments = Comment.objects.filter(task__project_id__in=project_ids)
    comments._raw_delete(comments.db)
    tasks = Task.objects.filter(project_id__in=project_ids)
    tasks._raw_delete(tasks.db)
    Project.objects.filter(pk__in=project_ids).delete()
    for project_id in project_ids:
        transaction.on_commit(lambda project_id=project_id: live.publish_board_closed(project_id), robust=True)
