"""The time that writes record, and how long ago a moment was, in words.

Every write that stamps a time (a card's creation, its archiving, an event's `at`) asks `now()`.
It is the real time, except inside `frozen_at(moment)`, which the demo seed uses to play a
history over past days through the ordinary services instead of rewriting rows afterwards.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_frozen: ContextVar[datetime | None] = ContextVar("boards_clock_frozen", default=None)

_UNITS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60))


def now() -> datetime:
    """The current time for a write: timezone.now(), or the moment set by frozen_at()."""
    return _frozen.get() or timezone.now()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Writes inside this block (in this thread or task) are stamped `moment`."""
    if timezone.is_naive(moment):
        raise ValueError("frozen_at() needs an aware datetime.")
    token = _frozen.set(moment)
    try:
        yield
    finally:
        _frozen.reset(token)


def ago(moment: datetime | None, reference: datetime | None = None) -> str:
    """'just now', '1 minute ago', '5 hours ago', '3 weeks ago': one unit, the largest that fits."""
    if moment is None:
        return ""
    seconds = max(0, int(((reference or timezone.now()) - moment).total_seconds()))
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"
