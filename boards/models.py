"""The domain: workspaces, their members, projects, board columns and tasks."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse


class Category(models.TextChoices):
    TODO = "todo", "To do"
    ACTIVE = "active", "Active"
    REVIEW = "review", "Review"
    ISSUE = "issue", "Issue"
    DONE = "done", "Done"


DEFAULT_COLUMNS = [
    ("Todo", Category.TODO),
    ("In Progress", Category.ACTIVE),
    ("In Review", Category.REVIEW),
    ("Issue", Category.ISSUE),
    ("Done", Category.DONE),
]


class Application(models.Model):
    """A workspace: people reach its projects through a Membership."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "user"], name="membership_unique_user"),
            models.CheckConstraint(condition=Q(role__in=["owner", "editor", "viewer"]), name="membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} ({self.role}) in {self.application}"

    @property
    def can_edit(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.EDITOR)


class Project(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=10, help_text="Short key, such as WEB or OPS.")
    derived_status = models.ForeignKey(
        "TaskStatus", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["application", "key"], name="project_unique_key"),
        ]

    def __str__(self):
        return f"{self.key} · {self.name}"

    def save(self, *args, **kwargs):
        # One transaction with the handlers: a new project's aggregate row and its default
        # columns exist from the moment it does.
        adding = self._state.adding
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            super().save(*args, **kwargs)
            if adding and not kwargs.get("raw"):
                TaskStatus.objects.bulk_create(
                    TaskStatus(project=self, name=name, category=category, position=index)
                    for index, (name, category) in enumerate(DEFAULT_COLUMNS)
                )
                from boards.signals import columns_changed

                columns_changed.send(sender=Project, project_id=self.pk)

    def get_absolute_url(self):
        return reverse("board", args=[self.pk])


class TaskStatus(models.Model):
    """A board column. Several columns may share a category."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="task_statuses")
    name = models.CharField(max_length=60)
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.TODO)
    position = models.PositiveIntegerField(default=0)
    wip_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    wip_hard = models.BooleanField(
        default=False, help_text="Hard: refuse cards beyond the limit. Soft: only mark the column."
    )

    class Meta:
        ordering = ["project", "position", "pk"]
        verbose_name_plural = "task statuses"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="taskstatus_unique_name"),
            # Target of the composite foreign key that keeps a task's column in its project.
            models.UniqueConstraint(fields=["id", "project"], name="taskstatus_unique_id_project"),
            models.CheckConstraint(
                condition=Q(category__in=[c.value for c in Category]), name="taskstatus_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(wip_limit__isnull=True) | Q(wip_limit__gte=1), name="taskstatus_wip_positive"
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # The aggregates handlers read the stored category under a lock in pre_save and apply
        # the count change in post_save: both must share this transaction.
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and Task.objects.filter(task_status_id=self.pk).exists():
            raise ValidationError(self.still_holds(Task.objects.filter(task_status_id=self.pk).count()))
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            return super().delete(*args, **kwargs)

    def still_holds(self, held: int) -> str:
        """Why this column, holding `held` cards, cannot be deleted."""
        return (
            f"The column “{self.name}” still holds {held} card(s), archived ones included. Move or delete them first."
        )


# Task fields the per-project counts depend on.
COUNTED_FIELDS = frozenset({"task_status", "task_status_id", "project", "project_id", "archived_at"})


class TaskQuerySet(models.QuerySet):
    def live(self):
        return self.filter(archived_at__isnull=True)

    def archived(self):
        return self.filter(archived_at__isnull=False)

    def for_board(self):
        return self.live().select_related("assignee").order_by("position", "pk")

    def update(self, **kwargs):
        # update() fires no signals, so it would let the counts drift.
        counted = COUNTED_FIELDS.intersection(kwargs)
        if counted and not getattr(self, "_counts_handled", False):
            raise TypeError(
                f"Task update() cannot change {', '.join(sorted(counted))}: use "
                "boards.services.bulk_move_tasks / bulk_archive_tasks, which keep the counts exact."
            )
        return super().update(**kwargs)

    update.queryset_only = True

    def bulk_create(self, objs, *args, **kwargs):
        if not getattr(self, "_counts_handled", False):
            raise TypeError("Task bulk_create() skips the counts: use boards.services.bulk_create_tasks.")
        return super().bulk_create(objs, *args, **kwargs)

    bulk_create.queryset_only = True

    def bulk_update(self, objs, fields, *args, **kwargs):
        counted = COUNTED_FIELDS.intersection(fields)
        if counted and not getattr(self, "_counts_handled", False):
            raise TypeError(f"Task bulk_update() cannot change {', '.join(sorted(counted))}: use boards.services.")
        return super().bulk_update(objs, fields, *args, **kwargs)

    bulk_update.queryset_only = True

    def counts_handled(self):
        """A copy whose update() may change counted fields; for boards.services only."""
        clone = self._chain()
        clone._counts_handled = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._counts_handled = getattr(self, "_counts_handled", False)
        return clone


class Task(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    # RESTRICT, not PROTECT: deleting a project still takes its columns and cards together.
    task_status = models.ForeignKey(TaskStatus, on_delete=models.RESTRICT, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20000)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_tasks"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="reported_tasks"
    )
    # Rank within the column: a move writes a value between its new neighbours.
    position = models.FloatField(default=0)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        indexes = [
            models.Index(
                fields=["project", "task_status", "position"],
                condition=Q(archived_at__isnull=True),
                name="task_board_live",
            ),
            models.Index(fields=["project", "task_status"], name="task_project_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="task_title_not_empty"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.check_same_project()
        # The aggregates handlers lock and read the stored row in pre_save and apply the delta
        # in post_save: the same transaction even from a shell, the admin or a migration.
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("card", args=[self.project_id, self.pk])

    def delete(self, *args, **kwargs):
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            return super().delete(*args, **kwargs)

    def clean(self):
        self.check_same_project()

    def check_same_project(self) -> None:
        """Refuse a column of another project (the column instance, when loaded, is trusted:
        a column never changes project)."""
        if not (self.task_status_id and self.project_id):
            return
        if Task.task_status.is_cached(self) and self.task_status.pk == self.task_status_id:
            status_project = self.task_status.project_id
        else:
            status_project = (
                TaskStatus.objects.filter(pk=self.task_status_id).values_list("project_id", flat=True).first()
            )
        if status_project != self.project_id:
            raise ValidationError({"task_status": "This column belongs to another project."})

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class ProjectSequence(models.Model):
    """The last event sequence number of one project; writers bump it in their own transaction."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_seq = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.project_id} at {self.last_seq}"


class TaskEvent(models.Model):
    """One committed change, append-only. `seq` is gapless per project: the board's live number."""

    class Kind(models.TextChoices):
        CREATED = "created", "created"
        EDITED = "edited", "edited"
        MOVED = "moved", "moved"
        REORDERED = "reordered", "reordered"
        ARCHIVED = "archived", "archived"
        UNARCHIVED = "unarchived", "unarchived"
        DELETED = "deleted", "deleted"
        COLUMN_CATEGORY = "column_category", "column category changed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    # ON DELETE SET NULL is done by the database (migration 0003): the event outlives its task
    # and deleting a task costs no extra query. task_title keeps what the card was called.
    task = models.ForeignKey(
        Task, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, null=True, related_name="+"
    )
    task_title = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The live-count flow of the change: `task_count` live tasks leave from_category and enter
    # to_category (either null when none); the diagram and the flow metrics read these columns.
    from_category = models.CharField(max_length=10, choices=Category.choices, null=True)
    to_category = models.CharField(max_length=10, choices=Category.choices, null=True)
    task_count = models.PositiveIntegerField(default=1)
    # On an arrival in done: when the card first went past todo, and when it was created (lead
    # and cycle time read the arrivals alone, without a lookup per card).
    started_at = models.DateTimeField(null=True, blank=True)
    task_created_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["project", "seq"]
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="taskevent_unique_seq")]
        indexes = [
            models.Index(fields=["task", "seq"], name="taskevent_task"),
            models.Index(fields=["project", "at"], name="taskevent_project_at"),
            # Arrivals in done, for lead and cycle time over a range. Covering: the flow metrics read
            # a year of arrivals from the index alone (an index-only scan), not a heap page per row.
            models.Index(
                fields=["project", "at"],
                include=["task", "seq", "from_category", "started_at", "task_created_at"],
                condition=Q(to_category="done", kind__in=["created", "moved"], task__isnull=False),
                name="taskevent_arrivals",
            ),
            # Departures from done: a card that left is not done any more.
            models.Index(fields=["project", "at"], condition=Q(from_category="done"), name="taskevent_left_done_at"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.kind} {self.task_title}"


class ProjectDailySnapshot(models.Model):
    """A project's live counts per category on one day, copied from its counts row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    todo_tasks = models.IntegerField(default=0)
    active_tasks = models.IntegerField(default=0)
    review_tasks = models.IntegerField(default=0)
    issue_tasks = models.IntegerField(default=0)
    done_tasks = models.IntegerField(default=0)
    # The project's event sequence number when the counts were read (same statement).
    seq = models.BigIntegerField(default=0)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["project", "date"]
        constraints = [models.UniqueConstraint(fields=["project", "date"], name="snapshot_unique_day")]

    def __str__(self):
        return f"{self.project_id} on {self.date}"

    def as_counts(self) -> dict[str, int]:
        return {category.value: getattr(self, f"{category.value}_tasks") for category in Category}
