"""Who watches which card, what each person was told, and how they want to be told.

The foreign keys to boards' rows (task, project, event) are enforced by PostgreSQL with
ON DELETE CASCADE (migration 0001), not by Django's collector: deleting a card or a project
costs no extra query for the notifications that hang off it.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Watch(models.Model):
    """A user follows a card: its comments and moves notify them. Made automatically when they
    create the card, are assigned it or comment on it; `watching=False` is an explicit unwatch,
    which an automatic watch never overrides."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(
        "boards.Task", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    watching = models.BooleanField(default=True)
    # From when: the time of the event that made an automatic watch, or of the click. Only events
    # after it are told, so a job run again later tells nobody of what happened before they watched.
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "user"], name="watch_unique_task_user")]

    def __str__(self):
        return f"{self.user_id} {'watches' if self.watching else 'ignores'} {self.task_id}"


class Notification(models.Model):
    """One thing one person is told about one event. Unique per (recipient, event, kind): the
    fan-out job that makes them can run again without telling anyone twice."""

    class Kind(models.TextChoices):
        MENTIONED = "mentioned", "mentioned you"
        ASSIGNED = "assigned", "assigned you"
        COMMENTED = "commented", "commented"
        MOVED = "moved", "moved"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(
        "boards.TaskEvent", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    task = models.ForeignKey(
        "boards.Task", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    project = models.ForeignKey(
        "boards.Project", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A mention is told once, whichever event first finds it (a comment edited later keeps
    # its earlier mentions: they are not told again).
    mention = models.ForeignKey(
        "boards.Mention", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What to show without reading the event again: a comment's excerpt, the column moved to.
    detail = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set when the e-mail digest has dealt with it: sent, or left out (e-mail off, already read).
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event", "kind"], name="notification_unique_event_kind"),
            models.UniqueConstraint(fields=["mention"], name="notification_unique_mention"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_recipient"),
            models.Index(fields=["recipient"], condition=models.Q(read_at__isnull=True), name="notification_unread"),
            models.Index(
                fields=["recipient"], condition=models.Q(emailed_at__isnull=True), name="notification_unemailed"
            ),
            # The database cascades from these (no index: every delete of a card would scan).
            models.Index(fields=["task"], name="notification_task"),
            models.Index(fields=["event"], name="notification_event"),
            models.Index(fields=["project"], name="notification_project"),
        ]

    def __str__(self):
        return f"{self.recipient_id}: {self.kind} on {self.task_id}"


class NotificationSettings(models.Model):
    """How a user wants e-mail. No row means the defaults: every kind on."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    email = models.BooleanField("E-mail me notifications", default=True)
    email_mentioned = models.BooleanField("when someone mentions me", default=True)
    email_assigned = models.BooleanField("when someone assigns me a card", default=True)
    email_commented = models.BooleanField("when someone comments on a card I watch", default=True)
    email_moved = models.BooleanField("when someone moves a card I watch", default=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self):
        return f"Notification settings of {self.user_id}"

    def emails(self, kind: str) -> bool:
        """Whether a notification of this kind goes out by e-mail."""
        return self.email and getattr(self, f"email_{kind}", False)
