"""The notifications' queue tasks (found by procrastinate's Django app in every app's tasks.py)."""

from django.conf import settings
from django.db import transaction
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from notifications import emails, queries

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
    (the queueing lock): the notifications of those minutes go out in one e-mail."""
    delay = 0 if now else settings.NOTIFY_EMAIL_DELAY_SECONDS
    job = send_digest.configure(
        queueing_lock=f"digest:{user_id}", schedule_in={"seconds": delay} if delay > 0 else None
    )
    try:
        # A savepoint: inside a transaction, the refused insert must not abort the caller's.
        with transaction.atomic():
            job.defer(user_id=user_id)
    except AlreadyEnqueued:
        pass


# The consumer queues a digest after its commit, on the worker's own connection: a worker that
# dies between the two leaves notifications with no digest to send them. Every few minutes,
# such notifications get one.
@app.periodic(cron="*/5 * * * *", periodic_id="lost_digests")
@app.task(name="notifications.queue_lost_digests", queue="periodic", queueing_lock="lost_digests")
def queue_lost_digests(timestamp: int) -> int:
    user_ids = queries.waiting_for_digest(older_than=2 * settings.NOTIFY_EMAIL_DELAY_SECONDS + 60)
    for user_id in user_ids:
        queue_digest(user_id, now=True)
    return len(user_ids)
