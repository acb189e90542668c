"""Every read of the notification pages, the bell, the live push and the digest.

A notification is shown only while its recipient is a member of its card's workspace
(ARCHITECTURE.md, invariant 7): every read here joins the membership, so a removed member's old
notifications are neither counted, listed, opened nor e-mailed.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count, F
from django.http import Http404
from django.utils import timezone

from boards.models import Task
from notifications.models import Notification, NotificationSettings, Watch

PAGE_SIZE = 30
BELL_MAX = 99  # the bell counts no further ("99+"): a count stays one bounded index read


def _is_id(value) -> bool:
    return isinstance(value, int) and 0 < value < 2**63


def visible(user):
    """The user's notifications in workspaces they are still a member of."""
    return Notification.objects.filter(recipient_id=user.pk, project__application__memberships__user_id=user.pk)


def unread_count(user) -> int:
    """How many unread notifications the user has, up to BELL_MAX + 1. One query."""
    return visible(user).filter(read_at__isnull=True).order_by()[: BELL_MAX + 1].count()


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Each user's unread count (uncapped; users with none are missing). One query."""
    rows = (
        Notification.objects.filter(
            recipient_id__in=list(user_ids),
            read_at__isnull=True,
            project__application__memberships__user_id=F("recipient_id"),
        )
        .values("recipient_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["recipient_id"]: row["n"] for row in rows}


def page(user, before: int | None = None) -> tuple[list[Notification], int | None]:
    """A page of the user's notifications, newest first, older than `before` (an id); and the id
    to ask for the next page with (None on the last). One query."""
    rows = visible(user).select_related("task__project", "actor__profile").order_by("-id")
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows[: PAGE_SIZE + 1])
    if len(found) > PAGE_SIZE:
        return found[:PAGE_SIZE], found[PAGE_SIZE - 1].pk
    return found, None


def get_notification_for(user, notification_id) -> Notification:
    """The user's notification with its card and the card's project; 404 when it is not theirs or
    they are no longer a member of its workspace."""
    if not _is_id(notification_id):
        raise Http404("No such notification.")
    found = visible(user).select_related("task__project").filter(pk=notification_id).first()
    if found is None:
        raise Http404("No such notification.")
    return found


def card_exists(project, task_id) -> bool:
    """Whether the card belongs to the project (the caller checked the project's access)."""
    return _is_id(task_id) and Task.objects.filter(project_id=project.pk, pk=task_id).exists()


def is_watching(user, task_id: int) -> bool:
    return Watch.objects.filter(user_id=user.pk, task_id=task_id, watching=True).exists()


def waiting_for_digest(*, older_than: float, limit: int = 1000) -> list[int]:
    """Users with a notification older than `older_than` seconds that no digest has dealt with."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    rows = Notification.objects.filter(emailed_at__isnull=True, created_at__lt=cutoff)
    return list(rows.values_list("recipient_id", flat=True).distinct().order_by("recipient_id")[:limit])


def settings_of(user_id: int) -> NotificationSettings:
    """The user's e-mail settings; the defaults (unsaved) when they never changed them."""
    return NotificationSettings.objects.filter(user_id=user_id).first() or NotificationSettings(user_id=user_id)
