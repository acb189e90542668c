"""The webhook deliveries' queue task (found by procrastinate's Django app)."""

import logging

from procrastinate.contrib.django import app

from webhooks import payloads, sending, services
from webhooks.models import PING

logger = logging.getLogger(__name__)


@app.task(name=services.DELIVER_TASK, queue=services.DELIVER_QUEUE)
def deliver(delivery_id: int) -> str:
    """One attempt of a delivery; a failure queues the next one itself (services.record_attempt)."""
    delivery = services.claim_attempt(delivery_id=delivery_id)
    if delivery is None:
        return "nothing to do"
    webhook = delivery.webhook
    if not webhook.active and delivery.kind != PING:
        services.give_up(delivery=delivery, reason="Not sent: the webhook is disabled.")
        return "webhook disabled"
    body = payloads.encode(delivery.payload)
    timestamp = int(delivery.last_attempt_at.timestamp())
    headers = payloads.headers(
        secret=webhook.secret, kind=delivery.kind, delivery_id=delivery.pk, body=body, timestamp=timestamp
    )
    outcome = sending.post(webhook.url, body, headers)
    delivery = services.record_attempt(delivery=delivery, outcome=outcome)
    logger.info(
        "webhook %s delivery %s attempt %s: %s %s %s",
        webhook.pk,
        delivery.pk,
        delivery.attempts,
        delivery.status,
        outcome.response_code or "-",
        outcome.error or "",
    )
    return delivery.status


# Every few minutes, whichever worker is free: a delivery whose job was lost is queued again.
@app.periodic(cron="*/5 * * * *", periodic_id="webhooks_requeue_overdue")
@app.task(name="webhooks.requeue_overdue", queue="periodic", queueing_lock="webhooks_requeue_overdue")
def requeue_overdue(timestamp: int) -> int:
    return services.requeue_overdue()


# Nightly: the delivery log keeps services.DELIVERIES_KEPT of settled deliveries.
@app.periodic(cron="40 3 * * *", periodic_id="webhooks_forget_deliveries")
@app.task(name="webhooks.forget_deliveries", queue="periodic", queueing_lock="webhooks_forget_deliveries")
def forget_deliveries(timestamp: int) -> int:
    return services.forget_deliveries()
