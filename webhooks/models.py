"""Webhooks of a project and the log of what was sent to them."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from boards.models import Project, TaskEvent

ALL_EVENTS = "all"
PING = "ping"

# What a subscriber may choose: every kind of history event, or all of them.
EVENT_CHOICES = [(ALL_EVENTS, "All events"), *TaskEvent.Kind.choices]


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


class Webhook(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=2000)
    secret = models.CharField(max_length=64, default=new_secret)
    # Kinds of TaskEvent to send, or ["all"].
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    # Deliveries that failed for good in a row (their retries spent); a success resets it.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "pk"]
        indexes = [models.Index(fields=["project"], condition=Q(active=True), name="webhook_project_active")]

    def __str__(self):
        return f"{self.url} ({self.project.key})"

    def wants(self, kind: str) -> bool:
        return ALL_EVENTS in self.events or kind in self.events


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"
        REFUSED = "refused", "refused"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=20)
    # The event's project sequence number; null for a test delivery (kind "ping").
    seq = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=2048, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a pending delivery is due: on creation, now; while an attempt runs, when that attempt
    # counts as lost (its worker died); after a failure, the retry. Null once it is settled.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending_due"),
        ]
        constraints = [
            # A fan-out job that runs twice queues each event's delivery once.
            models.UniqueConstraint(fields=["webhook", "seq"], name="delivery_unique_event"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed", "refused"]), name="delivery_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk} to {self.webhook_id} ({self.status})"


class Attempt(models.Model):
    """One try of a delivery: what it was answered (the delivery keeps the latest too)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Delivery.Status.choices)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number")]

    def __str__(self):
        return f"attempt {self.number} of {self.delivery_id}: {self.outcome}"
