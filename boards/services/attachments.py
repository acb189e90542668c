"""Files on cards: add (sniffed, with a thumbnail for images) and remove. The files live in
Django's default storage; a row's files are deleted only after the transaction that deletes the
row commits (delete_files_on_commit, connected to Attachment's post_delete in BoardsConfig), so
a rolled-back delete keeps them, and cascades (a card, a project, a workspace) take them too."""

import os
import secrets
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from boards import files, history
from boards.live import events as live
from boards.models import Attachment, Project, Task
from boards.queries import refuse_archived
from boards.services.base import retry_on_deadlock
from boards.services.locks import _locked_task

NAME_MAX = Attachment._meta.get_field("name").max_length
ARCHIVED = "This card is archived: unarchive it before changing its attachments."


def too_large(size: int | None = None) -> ValidationError:
    limit = settings.ATTACHMENT_MAX_BYTES
    what = f"This file ({_megabytes(size)})" if size is not None else "This file"
    return ValidationError(f"{what} is larger than the {_megabytes(limit)} limit for attachments.")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def clean_name(name: str) -> str:
    """The name a file is shown and downloaded under: its last path part, no control characters."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > NAME_MAX:
        stem, ext = os.path.splitext(name)
        name = stem[: NAME_MAX - len(ext[:20])] + ext[:20]
    return name or "file"


@retry_on_deadlock
def add_attachment(*, project: Project, task_id, upload, actor=None) -> Attachment:
    """Store `upload` (a Django File) on the card: type sniffed from its bytes, a thumbnail for
    images; counts it on the card, bumps its version, records `attached`."""
    refuse_archived(project)
    size = upload.size
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise too_large(size)
    if size == 0:
        raise ValidationError("This file is empty.")
    task = Task.objects.filter(pk=task_id, project=project).only("pk", "project_id", "archived_at").first()
    if task is None:
        raise Task.DoesNotExist("That card no longer exists: someone may have deleted it.")
    if task.is_archived:
        raise ValidationError(ARCHIVED)
    sniffed = files.sniff(upload)
    attachment = Attachment(
        task=task,
        uploaded_by=actor,
        token=secrets.token_hex(16),
        name=clean_name(upload.name),
        size=size,
        content_type=sniffed.content_type,
        is_image=sniffed.is_image,
        width=sniffed.width,
        height=sniffed.height,
    )
    # Stored before the transaction (no lock held while bytes are written); removed again if it fails.
    attachment.file.save(attachment.token, upload, save=False)
    if sniffed.thumbnail:
        attachment.thumbnail.save(attachment.token, ContentFile(sniffed.thumbnail), save=False)
    try:
        with transaction.atomic():
            task = _locked_task(project, task.pk)
            if task.is_archived:
                raise ValidationError(ARCHIVED)
            attachment.task = task
            attachment.save(force_insert=True)
            task.attachment_count += 1
            task.version += 1
            task.save(update_fields=["attachment_count", "version", "updated_at"])
            event = history.record_attached(task, actor=actor, attachment=attachment)
            live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    except BaseException:
        _delete_files([attachment.file.name, attachment.thumbnail.name])
        raise
    return attachment


@retry_on_deadlock
def remove_attachment(*, project: Project, attachment_id, actor=None) -> Attachment:
    """Remove a file from its card; the stored files go once this commits."""
    refuse_archived(project)
    try:
        attachment_id = int(attachment_id)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("That is not an attachment of this board.") from None
    task_id = (
        Attachment.objects.filter(pk=attachment_id, task__project=project).values_list("task_id", flat=True).first()
    )
    if task_id is None:
        raise Attachment.DoesNotExist("That attachment no longer exists: someone may have removed it.")
    with transaction.atomic():
        task = _locked_task(project, task_id)
        attachment = Attachment.objects.filter(pk=attachment_id, task=task).first()
        if attachment is None:
            raise Attachment.DoesNotExist("That attachment no longer exists: someone may have removed it.")
        if task.is_archived:
            raise ValidationError(ARCHIVED)
        attachment.delete()
        task.attachment_count -= 1  # never clamped: the CHECK constraint catches a drift loudly
        task.version += 1
        task.save(update_fields=["attachment_count", "version", "updated_at"])
        event = history.record_detached(task, actor=actor, attachment=attachment)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return attachment


def delete_attachments_of_projects(project_ids: list[int]) -> None:
    """Delete the attachments of these projects' cards in one statement, their files on commit.
    For services.projects.delete_projects, which deletes the cards without a cascade. Call inside atomic()."""
    rows = Attachment.objects.filter(task__project_id__in=project_ids)
    names = [name for pair in rows.values_list("file", "thumbnail") for name in pair if name]
    if not names:
        return
    rows._raw_delete(rows.db)
    transaction.on_commit(lambda: _delete_files(names), robust=True)


def delete_files_on_commit(sender, instance: Attachment, using=None, **kwargs) -> None:
    """post_delete of Attachment: its files go when (and only if) the delete commits."""
    names = [instance.file.name, instance.thumbnail.name]
    transaction.on_commit(lambda: _delete_files(names), using=using, robust=True)


def _delete_files(names) -> None:
    for name in names:
        if name:
            default_storage.delete(name)
