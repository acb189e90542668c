"""Comments on a card: add, edit (the author), delete (the author, or a workspace owner).

Each write is one transaction: the card row locked first (so a card someone archives or deletes
meanwhile refuses the comment, and the card's comment_count changes in commit order), the comment,
the count with an F() update, a history event, the mentions, then the live push that refreshes
the card face and open dialogs. A comment does not bump the card's `version`: that number guards
the card's own text against concurrent edits, and a comment arriving while someone edits the
description must not make their save a conflict.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from boards import clock, history
from boards.live import events as live
from boards.models import Comment, Membership, Project, Task
from boards.queries import ReadOnly, refuse_archived, role_of
from boards.services.base import Conflict, retry_on_deadlock
from boards.services.locks import _locked_task
from boards.services.mentions import record_mentions

BODY_MAX = Comment._meta.get_field("body").max_length
ARCHIVED_CARD = "This card is archived: unarchive it to comment."
GONE_CARD = "This card no longer exists: someone deleted it. Copy your comment before you close it."
GONE_COMMENT = "This comment no longer exists: someone deleted it."
NOT_YOURS = "You can edit only your own comments."
NOT_YOURS_TO_DELETE = "You can delete only your own comments (owners can delete any)."


def clean_body(body) -> str:
    """A comment's Markdown, stripped; empty or longer than BODY_MAX is refused."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something first: a comment cannot be empty."})
    if len(body) > BODY_MAX:
        raise ValidationError({"body": f"Keep a comment to {BODY_MAX:,} characters (this one has {len(body):,})."})
    return body


def _lock_open_card(project: Project, task_id) -> Task:
    """The card locked for a comment write; refused when it is gone or archived."""
    try:
        task = _locked_task(project, task_id)
    except Task.DoesNotExist:
        raise Task.DoesNotExist(GONE_CARD) from None
    if task.is_archived:
        raise Conflict(ARCHIVED_CARD)
    return task


def _lock_comment(task: Task, comment_id) -> Comment:
    try:
        comment_id = int(comment_id)
    except (TypeError, ValueError, OverflowError):
        raise Comment.DoesNotExist(GONE_COMMENT) from None
    comment = Comment.objects.select_for_update().filter(pk=comment_id, task_id=task.pk).first()
    if comment is None:
        raise Comment.DoesNotExist(GONE_COMMENT)
    return comment


def _count(task: Task, delta: int) -> None:
    # An F() update under the card's lock: exact whatever else writes the row meanwhile.
    Task.objects.filter(pk=task.pk).update(comment_count=F("comment_count") + delta)
    task.comment_count += delta


@retry_on_deadlock
def add_comment(*, project: Project, task_id, body: str, author) -> Comment:
    """A new comment by `author` on a card that is on the board."""
    refuse_archived(project)
    body = clean_body(body)
    with transaction.atomic():
        task = _lock_open_card(project, task_id)
        comment = Comment(task=task, author=author, body=body)
        comment.save()
        _count(task, +1)
        event = history.record_commented(task, actor=author, comment=comment)
        record_mentions(project=project, task=task, html=comment.body_html, actor=author, comment=comment)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return comment


@retry_on_deadlock
def edit_comment(*, project: Project, task_id, comment_id, body: str, actor) -> Comment:
    """Change the text of one's own comment; people newly mentioned in it are recorded."""
    refuse_archived(project)
    body = clean_body(body)
    with transaction.atomic():
        task = _lock_open_card(project, task_id)
        comment = _lock_comment(task, comment_id)
        if comment.author_id is None or comment.author_id != getattr(actor, "pk", actor):
            raise ReadOnly(NOT_YOURS)
        if comment.body == body:
            return comment
        comment.body = body
        comment.edited_at = clock.now()
        comment.save(update_fields=["body", "edited_at"])
        event = history.record_comment_edited(task, actor=actor, comment=comment)
        record_mentions(project=project, task=task, html=comment.body_html, actor=actor, comment=comment)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return comment


def _is_owner(project: Project, actor) -> bool:
    role = getattr(project, "role", None)
    if role is None:  # a project not read for this user (a shell, a command): ask
        role = role_of(getattr(actor, "pk", actor), project.application_id)
    return role == Membership.Role.OWNER


@retry_on_deadlock
def delete_comment(*, project: Project, task_id, comment_id, actor) -> Comment:
    """Delete a comment: one's own, or any as an owner of the workspace."""
    refuse_archived(project)
    with transaction.atomic():
        task = _lock_open_card(project, task_id)
        comment = _lock_comment(task, comment_id)
        own = comment.author_id is not None and comment.author_id == getattr(actor, "pk", actor)
        if not own and not _is_owner(project, actor):
            raise ReadOnly(NOT_YOURS_TO_DELETE)
        comment_id = comment.pk
        comment.delete()
        comment.pk = comment_id  # the event keeps which comment it was
        _count(task, -1)
        event = history.record_comment_deleted(task, actor=actor, comment=comment)
        live.publish_on_commit(project_id=project.pk, task_ids=[task.pk], events=[event])
    return comment
