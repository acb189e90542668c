"""The notifications' queue tasks (found by procrastinate's Django app in every app's tasks.py)."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from notifications import emails, queries
from tasktrack import queue

# A mail server that refuses is tried again for about an hour, with growing pauses.
EMAIL_RETRY = RetryStrategy(max_attempts=8, exponential_wait=2)


@app.task(name="notifications.send_digest", queue="email", retry=EMAIL_RETRY)
def send_digest(user_id: int) -> int:
    sent, more = emails.send_digest(user_id)
    if more:
        queue_digest(user_id, now=True)
    return sent


def queue_digest(user_id: int, *, now: bool = False) -> None:
    """Queue the user's digest NOTIFY_EMAIL_DELAY_SECONDS from now, unless one is waiting already
    (the queueing lock): the notifications of those minutes go out in one e-mail. Queued in the
    caller's transaction (tasktrack.queue), so it exists exactly when their notifications do."""
    delay = 0 if now else settings.NOTIFY_EMAIL_DELAY_SECONDS
    try:
        # A savepoint: the insert a waiting digest refuses must not abort the caller's transaction.
        with transaction.atomic():
            queue.defer(
                "notifications.send_digest",
                queue="email",
                schedule_at=timezone.now() + dt.timedelta(seconds=delay) if delay > 0 else None,
                queueing_lock=f"digest:{user_id}",
                user_id=user_id,
            )
    except AlreadyEnqueued:
        pass


# Belt and braces: notifications no digest has dealt with long after their own would have gone
# (a digest job deleted by hand, a failure that exhausted its retries) get one.
@app.periodic(cron="*/5 * * * *", periodic_id="lost_digests")
@app.task(name="notifications.queue_lost_digests", queue="periodic", queueing_lock="lost_digests")
def queue_lost_digests(timestamp: int) -> int:
    user_ids = queries.waiting_for_digest(older_than=2 * settings.NOTIFY_EMAIL_DELAY_SECONDS + 60)
    for user_id in user_ids:
        queue_digest(user_id, now=True)
    return len(user_ids)
