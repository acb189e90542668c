"""Every write of the notifications app besides the fan-out (consumer.py)."""

from django.db import transaction
from django.utils import timezone

from notifications import live
from notifications.models import Notification, NotificationSettings, Watch


def set_watching(*, user, task_id: int, watching: bool) -> Watch:
    """Watch or unwatch a card (the caller checked the user may see it). An unwatch is kept, so
    that the automatic watches (commenting, being assigned) do not undo it."""
    fields = {"watching": watching, "since": timezone.now()}
    watch, _ = Watch.objects.update_or_create(user_id=user.pk, task_id=task_id, defaults=fields)
    return watch


def _bell_on_commit(user_id: int) -> None:
    # The user's other open boards show the new count too.
    transaction.on_commit(lambda: live.push_bells([user_id]))


def mark_read(*, user, notification: Notification) -> Notification:
    """Mark one of the user's notifications read (from get_notification_for)."""
    if notification.read_at is None:
        with transaction.atomic():
            notification.read_at = timezone.now()
            Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
            _bell_on_commit(user.pk)
    return notification


def mark_all_read(*, user) -> int:
    """Mark every unread notification of the user read; how many there were."""
    with transaction.atomic():
        done = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())
        if done:
            _bell_on_commit(user.pk)
    return done


def save_settings(*, user, email: bool, **kinds: bool) -> NotificationSettings:
    """Store the user's e-mail settings (the form's cleaned data)."""
    fields = {"email": email, **{f"email_{kind}": on for kind, on in kinds.items()}}
    found, _ = NotificationSettings.objects.update_or_create(user_id=user.pk, defaults=fields)
    return found


def unsubscribe(*, user_id: int) -> NotificationSettings:
    """Turn every notification e-mail of the user off (the link in each e-mail)."""
    found, _ = NotificationSettings.objects.update_or_create(user_id=user_id, defaults={"email": False})
    return found
