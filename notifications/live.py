"""The bell, pushed to a user's open board sockets (boards.live's per-user group)."""

from collections.abc import Iterable

from django.template.loader import render_to_string

from boards.live import events
from notifications import queries

BELL = "notifications/bell.html#bell"


def bell_html(count: int, *, oob: bool = False) -> str:
    return render_to_string(BELL, {"count": count, "over": count > queries.BELL_MAX, "oob": oob})


def push_bells(user_ids: Iterable[int]) -> None:
    """Send each user's bell, with their unread count, to their open boards. One query; fire and
    forget (a page without a socket reads its count when it loads)."""
    user_ids = list(user_ids)
    counts = queries.unread_counts(user_ids)
    for user_id in user_ids:
        events.publish_to_member(user_id, bell_html(counts.get(user_id, 0), oob=True))
