"""The e-mail digest: one message with every notification a user was not yet e-mailed about,
and the signed one-click unsubscribe link it carries."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import people
from boards.models import Membership
from notifications import queries
from notifications.models import Notification

DIGEST_MAX = 100  # notifications in one e-mail; the rest go in the next, queued at once
UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_token(user_id: int) -> str:
    return signing.dumps(user_id, salt=UNSUBSCRIBE_SALT, compress=False)


def user_of_token(token: str) -> int | None:
    """The user an unsubscribe token was made for; None for a forged or damaged one."""
    if len(token) > 200:
        return None
    try:
        user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return user_id if isinstance(user_id, int) else None


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def describe(notification: Notification) -> str:
    """One line: who did what to which card (user text unescaped: templates escape it)."""
    who = people.display_name(notification.actor) if notification.actor else "Someone"
    task = notification.task
    card = f"{task.project.key}-{task.number} {task.title}"
    match notification.kind:
        case Notification.Kind.MENTIONED:
            return f"{who} mentioned you on {card}"
        case Notification.Kind.ASSIGNED:
            return f"{who} assigned you {card}"
        case Notification.Kind.COMMENTED:
            return f"{who} commented on {card}"
        case Notification.Kind.MOVED:
            return f"{who} moved {card} to {notification.detail}"
    return f"{who} changed {card}"


def send_digest(user_id: int) -> tuple[int, bool]:
    """E-mail the user every notification not yet e-mailed (unread, in workspaces they are still
    a member of, of kinds their settings e-mail), in one message, and mark them all dealt with.
    Returns how many went out, and whether more are waiting."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(recipient_id=user_id, emailed_at__isnull=True)
            .select_related("task__project", "actor__profile")
            .order_by("id")[: DIGEST_MAX + 1]
        )
        more = len(pending) > DIGEST_MAX
        pending = pending[:DIGEST_MAX]
        if not pending:
            return 0, False
        workspaces = {n.task.project.application_id for n in pending}
        member_of = set(
            Membership.objects.filter(user_id=user_id, application_id__in=workspaces).values_list(
                "application_id", flat=True
            )
        )
        prefs = queries.settings_of(user_id)
        chosen = [
            n
            for n in pending
            if n.read_at is None and n.task.project.application_id in member_of and prefs.emails(n.kind)
        ]
        if chosen and user is not None and user.email:
            digest(user, chosen).send()
        else:
            chosen = []
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=timezone.now())
    return len(chosen), more


def digest(user, notifications: list[Notification]) -> EmailMultiAlternatives:
    """The message: plain text and HTML, absolute links, a one-click unsubscribe (RFC 8058)."""
    unsubscribe = absolute(reverse("notifications:unsubscribe", args=[unsubscribe_token(user.pk)]))
    items = [
        {
            "text": describe(n),
            "detail": n.detail if n.kind in (Notification.Kind.MENTIONED, Notification.Kind.COMMENTED) else "",
            "url": absolute(reverse("notifications:open", args=[n.pk])),
        }
        for n in notifications
    ]
    context = {
        "name": people.display_name(user),
        "items": items,
        "unsubscribe": unsubscribe,
        "settings_url": absolute(reverse("notifications:settings")),
        "list_url": absolute(reverse("notifications:list")),
    }
    subject = items[0]["text"] if len(items) == 1 else f"{len(items)} new notifications on Tasktrack"
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split())[:200],
        body=render_to_string("notifications/email/digest.txt", context),
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(render_to_string("notifications/email/digest.html", context), "text/html")
    return message
