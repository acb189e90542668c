"""Every write of webhooks: the owners' settings, the deliveries the events queue, each attempt."""

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from boards.models import Project, Task, TaskEvent
from tasktrack import queue
from webhooks import payloads
from webhooks.models import PING, Attempt, Delivery, Webhook, new_secret
from webhooks.sending import Outcome

DELIVER_TASK = "webhooks.deliver"
DELIVER_QUEUE = "webhooks"
# An attempt takes at most sending.TOTAL_TIMEOUT; one not recorded well after that was lost.
ATTEMPT_LEASE = dt.timedelta(seconds=60)
# A pending delivery this far past due has lost its job (a worker died mid-attempt, a job was
# deleted by hand): the sweep queues it again. A queue this far behind gets a second job for some
# deliveries, which claim_attempt turns into nothing.
OVERDUE = dt.timedelta(minutes=15)
SWEEP_BATCH = 1000
# Settled deliveries (and their attempts) are the owners' log of what was sent: kept this long.
DELIVERIES_KEPT = dt.timedelta(days=30)
FORGET_BATCH = 5000


def _queue(deliveries: Sequence[Delivery], *, at: dt.datetime | None = None) -> None:
    """Queue each delivery's attempt in the caller's transaction (tasktrack.queue)."""
    queue.defer_each(
        DELIVER_TASK, ({"delivery_id": delivery.pk} for delivery in deliveries), queue=DELIVER_QUEUE, schedule_at=at
    )


def create_webhook(*, project: Project, url: str, events: list[str], actor) -> Webhook:
    """A new active webhook with a fresh secret."""
    return Webhook.objects.create(project=project, url=url, events=events, created_by=actor)


def update_webhook(*, webhook: Webhook, url: str, events: list[str]) -> Webhook:
    webhook.url = url
    webhook.events = events
    webhook.save(update_fields=["url", "events"])
    return webhook


def rotate_secret(*, webhook: Webhook) -> Webhook:
    """A new secret; deliveries signed from now on use it (attempts queued before too)."""
    webhook.secret = new_secret()
    webhook.save(update_fields=["secret"])
    return webhook


def enable_webhook(*, webhook: Webhook) -> Webhook:
    """Switch on again (after an automatic disabling too): the failure count starts afresh."""
    webhook.active = True
    webhook.consecutive_failures = 0
    webhook.disabled_at = None
    webhook.disabled_reason = ""
    webhook.save(update_fields=["active", "consecutive_failures", "disabled_at", "disabled_reason"])
    return webhook


def disable_webhook(*, webhook: Webhook, reason: str) -> Webhook:
    webhook.active = False
    webhook.disabled_at = timezone.now()
    webhook.disabled_reason = reason[:300]
    webhook.save(update_fields=["active", "disabled_at", "disabled_reason"])
    return webhook


def delete_webhook(*, webhook: Webhook) -> None:
    webhook.delete()


def send_test(*, webhook: Webhook, actor) -> Delivery:
    """A ping delivery, queued now (tried once, whether or not the webhook is active)."""
    with transaction.atomic():
        delivery = Delivery.objects.create(
            webhook=webhook,
            kind=PING,
            payload=payloads.ping_payload(webhook.project, actor),
            next_attempt_at=timezone.now(),
        )
        _queue([delivery])
    return delivery


def queue_deliveries(events: Sequence[TaskEvent]) -> list[Delivery]:
    """The fan-out consumer: one delivery per (active webhook, event of a kind it wants), queued.

    Idempotent: a job run again skips the events whose deliveries exist (unique webhook, seq).
    """
    if not events:
        return []
    project_id = events[0].project_id
    webhooks = list(Webhook.objects.filter(project_id=project_id, active=True).select_related("project"))
    wanted = [(webhook, event) for webhook in webhooks for event in events if webhook.wants(event.kind)]
    if not wanted:
        return []
    seqs = [event.seq for event in events]
    with transaction.atomic():
        done = set(Delivery.objects.filter(webhook__in=webhooks, seq__in=seqs).values_list("webhook_id", "seq"))
        wanted = [(webhook, event) for webhook, event in wanted if (webhook.pk, event.seq) not in done]
        if not wanted:
            return []
        task_ids = {event.task_id for _, event in wanted if event.task_id}
        tasks = Task.objects.filter(pk__in=task_ids, project_id=project_id).select_related("task_status", "assignee")
        documents = payloads.event_payloads(webhooks[0].project, events, {task.pk: task for task in tasks})
        now = timezone.now()
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    webhook=webhook, kind=event.kind, seq=event.seq, payload=documents[event.seq], next_attempt_at=now
                )
                for webhook, event in wanted
            ]
        )
        _queue(deliveries)
    return deliveries


def next_wait(attempts: int) -> dt.timedelta:
    """The pause after the attempts-th failed attempt: doubling from the first, capped."""
    seconds = settings.WEBHOOKS_RETRY_FIRST_WAIT * 2 ** min(attempts - 1, 30)
    return dt.timedelta(seconds=min(seconds, settings.WEBHOOKS_RETRY_MAX_WAIT))


def claim_attempt(*, delivery_id: int) -> Delivery | None:
    """The delivery, its attempt counted, when one is due; None when it is done or not due (a
    duplicate job). The webhook and its project come with it."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("webhook__project")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None or (delivery.next_attempt_at and delivery.next_attempt_at > now + dt.timedelta(seconds=5)):
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + ATTEMPT_LEASE  # due again then if this attempt is never recorded
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


def record_attempt(*, delivery: Delivery, outcome: Outcome) -> Delivery:
    """Write what an attempt gave; on failure queue the next one while the retry window lasts,
    else fail the delivery and count it against the webhook (disabled after too many in a row)."""
    now = timezone.now()
    retry_at = None
    if outcome.delivered:
        status = Delivery.Status.DELIVERED
    elif outcome.refused:
        status = Delivery.Status.REFUSED
    else:
        retry_at = now + next_wait(delivery.attempts)
        window_ends = delivery.created_at + dt.timedelta(seconds=settings.WEBHOOKS_RETRY_FOR)
        status = (
            Delivery.Status.PENDING if delivery.kind != PING and retry_at <= window_ends else Delivery.Status.FAILED
        )
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(pk=delivery.webhook_id)
        delivery.status = status
        delivery.response_code = outcome.response_code
        delivery.response_excerpt = outcome.response_excerpt
        delivery.error = outcome.error[:500]
        delivery.duration_ms = outcome.duration_ms
        delivery.next_attempt_at = retry_at if status == Delivery.Status.PENDING else None
        delivery.save(
            update_fields=["status", "response_code", "response_excerpt", "error", "duration_ms", "next_attempt_at"]
        )
        Attempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            at=delivery.last_attempt_at,
            # A failed attempt that will be retried is "failed" here; the delivery stays pending.
            outcome=Delivery.Status.FAILED if status == Delivery.Status.PENDING else status,
            response_code=outcome.response_code,
            error=delivery.error,
            duration_ms=outcome.duration_ms,
        )
        if status == Delivery.Status.PENDING:
            _queue([delivery], at=retry_at)
        elif delivery.kind != PING:
            _count(webhook, delivered=status == Delivery.Status.DELIVERED)
    return delivery


def _count(webhook: Webhook, *, delivered: bool) -> None:
    if delivered:
        if webhook.consecutive_failures:
            webhook.consecutive_failures = 0
            webhook.save(update_fields=["consecutive_failures"])
        return
    webhook.consecutive_failures += 1
    webhook.save(update_fields=["consecutive_failures"])
    if webhook.active and webhook.consecutive_failures >= settings.WEBHOOKS_DISABLE_AFTER:
        disable_webhook(
            webhook=webhook,
            reason=f"Disabled automatically: the last {webhook.consecutive_failures} deliveries failed.",
        )


def give_up(*, delivery: Delivery, reason: str) -> Delivery:
    """Fail a pending delivery without sending it (its webhook was switched off meanwhile)."""
    delivery.status = Delivery.Status.FAILED
    delivery.error = reason[:500]
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "error", "next_attempt_at"])
    return delivery


def forget_deliveries(*, now: dt.datetime | None = None) -> int:
    """Delete the settled deliveries older than DELIVERIES_KEPT, with their attempts; how many.

    In batches, each its own transaction, so a large backlog never holds locks for long. A pending
    delivery is kept however old: its retries still need it."""
    cutoff = (now or timezone.now()) - DELIVERIES_KEPT
    old = Delivery.objects.filter(created_at__lt=cutoff).exclude(status=Delivery.Status.PENDING)
    forgotten = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:FORGET_BATCH]):
        with transaction.atomic():
            Attempt.objects.filter(delivery_id__in=ids).delete()
            forgotten += Delivery.objects.filter(pk__in=ids).delete()[0]
    return forgotten


def requeue_overdue(*, now: dt.datetime | None = None) -> int:
    """Queue again the pending deliveries long past due (their job was lost); how many."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = list(
            Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lt=now - OVERDUE).order_by(
                "next_attempt_at"
            )[:SWEEP_BATCH]
        )
        _queue(overdue)
    return len(overdue)
