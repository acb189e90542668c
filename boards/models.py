"""The domain: workspaces, their members, projects, board columns and tasks."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse

from accounts.models import AVATAR_COLOURS
from boards import clock
from boards import text as markdown
from boards.text import RENDERER_VERSION


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


# ASCII only: str.isalnum() also takes Cyrillic, Greek and fullwidth letters that look like ours
# (a "WEB" that is not WEB), and superscript digits. \A and \Z mean the same to Python and
# PostgreSQL, so the form check and the database constraint are this one pattern.
PROJECT_KEY_PATTERN = r"\A[A-Za-z0-9]{1,10}\Z"
PROJECT_KEY_MESSAGE = "The key is 1 to 10 letters (A-Z) or digits, such as WEB."
validate_project_key = RegexValidator(PROJECT_KEY_PATTERN, PROJECT_KEY_MESSAGE, code="invalid_key")


class Project(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=10, validators=[validate_project_key], help_text="Short key, such as WEB or OPS.")
    derived_status = models.ForeignKey(
        "TaskStatus", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # An archived project is hidden from home and read-only for everyone; its cards and counts stay.
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["application", "key"], name="project_unique_key"),
            models.CheckConstraint(
                condition=Q(key__regex=PROJECT_KEY_PATTERN),
                name="project_key_ascii",
                violation_error_message=PROJECT_KEY_MESSAGE,
            ),
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
            # "QA" and "qa" are one name to the people reading the board.
            models.UniqueConstraint("project", Lower("name"), name="taskstatus_unique_name"),
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


# What a card's face never shows: read by the card dialog and page alone.
CARD_TEXT_FIELDS = ("description", "description_html", "search")


class Priority(models.IntegerChoices):
    NONE = 0, "None"
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    URGENT = 4, "Urgent"


# Label colours: the avatars' palette and two more, each passing WCAG AA (4.5:1) under white text.
LABEL_COLOURS = [*AVATAR_COLOURS, ("#4d7c0f", "Lime"), ("#c2410c", "Orange")]


# What Task.render_description() fills in from the description, written with it.
RENDERED_FIELDS = ("description_html", "description_renderer", "checklist_done", "checklist_total")


class TaskQuerySet(models.QuerySet):
    def live(self):
        return self.filter(archived_at__isnull=True)

    def archived(self):
        return self.filter(archived_at__isnull=False)

    def for_board(self):
        """Live cards as the board's card faces show them: no description, which only the card
        dialog and page show (a 20,000-character text per card would ride along on every board)."""
        return self.live().select_related("assignee__profile").defer(*CARD_TEXT_FIELDS).order_by("position", "pk")

    def update(self, **kwargs):
        if "description" in kwargs and "description_html" not in kwargs:
            # The stored HTML would go on showing the old text.
            raise TypeError("Task update() cannot change description: save the task (or services.update_task).")
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
        objs = list(objs)
        for task in objs:
            task.render_description()
        unnumbered = {}
        for task in objs:
            if task.number is None:
                unnumbered.setdefault(task.project_id, []).append(task)
        for project_id, tasks in unnumbered.items():
            first = CardNumberSequence.take_numbers(project_id, len(tasks), using=self.db)
            for offset, task in enumerate(tasks):
                task.number = first + offset
        return super().bulk_create(objs, *args, **kwargs)

    bulk_create.queryset_only = True

    def bulk_update(self, objs, fields, *args, **kwargs):
        counted = COUNTED_FIELDS.intersection(fields)
        if counted and not getattr(self, "_counts_handled", False):
            raise TypeError(f"Task bulk_update() cannot change {', '.join(sorted(counted))}: use boards.services.")
        if "description" in fields:
            objs = list(objs)
            for task in objs:
                task.render_description()
            fields = [*fields, *RENDERED_FIELDS]
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
    # The description rendered and cleaned on save (boards.text), so opening a card never renders;
    # description_renderer is the boards.text.RENDERER_VERSION that produced it. The database
    # defaults let raw inserts (bench data) through as version 0: render_descriptions fills them.
    description_html = models.TextField(blank=True, default="", db_default="", editable=False)
    description_renderer = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_tasks"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="reported_tasks"
    )
    # Rank within the column: a move writes a value between its new neighbours.
    position = models.FloatField(default=0)
    archived_at = models.DateTimeField(null=True, blank=True)
    # The write clock (boards.clock), so a history played in the past dates its cards too.
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)
    # KEY-<number>: per project, in creation order, never reused (CardNumberSequence).
    number = models.PositiveIntegerField(editable=False)
    # blank: a form (the admin's) that leaves it out or empty means none (save() fills it in).
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.NONE, db_default=0, blank=True
    )
    # A due day; due_at as well when a time was given (that instant, from the setter's time zone).
    due_date = models.DateField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    # The project's Label ids: an array, so a board reads labels with its cards and filters them
    # with a GIN index (&& any of, @> all of); deleting a label removes its id in the same transaction.
    label_ids = ArrayField(models.PositiveIntegerField(), default=list, db_default=[], blank=True)
    # What the card face counts, kept by the services that add and remove them (no query per card).
    comment_count = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    attachment_count = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # The description's task list (- [ ] / - [x]), counted when it is rendered.
    checklist_done = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    checklist_total = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    # Title and description for full-text search, kept by PostgreSQL itself.
    search = models.GeneratedField(
        expression=SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

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
            # Open cards by age, column by column: the insights page reads the ages of a million
            # cards from this index alone and the oldest open cards from the head of each column.
            models.Index(
                fields=["project", "task_status", "created_at", "id"],
                condition=Q(archived_at__isnull=True),
                name="task_live_age",
            ),
            GinIndex(fields=["label_ids"], name="task_label_ids"),
            GinIndex(fields=["search"], name="task_search"),
            models.Index(fields=["due_date"], condition=Q(due_date__isnull=False), name="task_due_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="task_title_not_empty"),
            models.UniqueConstraint(fields=["project", "number"], name="task_unique_number"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        """Save, never bringing back a deleted card: a stored card (or a copy naming one by its
        id) whose row is gone raises Task.DoesNotExist. Pass force_insert=True to insert a new
        card with an id of your choosing."""
        self.check_same_project()
        if self.priority is None:
            self.priority = Priority.NONE
        # Every write of a description stores its HTML with it: pages only ever show that.
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "description" in update_fields:
            self.render_description()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, *RENDERED_FIELDS}
        # The aggregates handlers lock and read the stored row in pre_save and apply the delta
        # in post_save: the same transaction even from a shell, the admin or a migration.
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            if self._state.adding and self.pk is not None and not kwargs.get("force_insert"):
                self._adopt_stored_row(kwargs.get("using"))
            super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("card", args=[self.project_id, self.pk])

    def render_description(self) -> None:
        """Fill description_html and the checklist counts from description (every write of a
        description calls this)."""
        rendered = markdown.render(self.description)
        self.description_html = rendered.html
        self.description_renderer = RENDERER_VERSION
        self.checklist_total = len(rendered.items)
        self.checklist_done = sum(item.done for item in rendered.items)

    def _adopt_stored_row(self, using) -> None:
        """A copy built by hand with a card's id (from a cache or a payload) updates that card,
        locked here so it cannot be deleted before the UPDATE; with no such card it is refused.
        Django's save would otherwise UPDATE or INSERT by what it finds, after the counts
        handler had decided which."""
        stored = Task.objects.using(using).select_for_update().filter(pk=self.pk).values_list("number", flat=True)
        if not stored:
            raise Task.DoesNotExist(self.gone(self.pk))
        self._state.adding = False
        if self.number is None:
            self.number = stored[0]  # a copy that never knew its number keeps the card's

    def _do_insert(self, manager, using, fields, returning_fields, raw):
        # A card saved without the services gets its number here: after the counts handler's
        # column locks, as the services take it, so the two orders never cross.
        if self.number is None:
            self.number = CardNumberSequence.take_numbers(self.project_id, using=using)
        return super()._do_insert(manager, using, fields, returning_fields, raw)

    def _do_update(self, *args, **kwargs):
        # Django INSERTs when the UPDATE of a stored card finds no row: that would bring back a
        # card someone deleted, counted by no handler. Refuse instead.
        updated = super()._do_update(*args, **kwargs)
        if not updated and not self._state.adding:
            raise Task.DoesNotExist(self.gone(self.pk))
        return updated

    @staticmethod
    def gone(pk) -> str:
        return f"Card {pk} no longer exists: someone deleted it, so it is not saved again."

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


class CardNumberSequence(models.Model):
    """The last card number given out in a project (Task.number): numbers are never reused.

    A row of its own, not ProjectSequence's: a create takes its number before the counts row,
    while every write takes the event sequence after it, so one row for both could deadlock."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.project_id} at number {self.last_number}"

    @classmethod
    def take_numbers(cls, project_id: int, n: int = 1, using=None) -> int:
        """Reserve n card numbers for the project and return the first. The UPDATE locks the
        project's row until the caller's transaction ends, so no two writers get the same numbers.
        (boards.history.take_card_numbers does the same in one statement, for the services.)"""
        rows = cls.objects.using(using)
        with transaction.atomic(using=using, savepoint=False):
            if not rows.filter(project_id=project_id).update(last_number=F("last_number") + n):
                rows.bulk_create([cls(project_id=project_id)], ignore_conflicts=True)
                rows.filter(project_id=project_id).update(last_number=F("last_number") + n)
            return rows.filter(project_id=project_id).values_list("last_number", flat=True).get() - n + 1


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
        COMMENTED = "commented", "commented"
        COMMENT_EDITED = "comment_edited", "comment edited"
        COMMENT_DELETED = "comment_deleted", "comment deleted"
        ATTACHED = "attached", "file attached"
        DETACHED = "detached", "file removed"
        # A card moved to another project: it leaves one project's log and joins the other's.
        MOVED_OUT = "moved_out", "moved to another project"
        MOVED_IN = "moved_in", "moved from another project"

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


class Invitation(models.Model):
    """A way into a workspace: a link (and, when `email` is set, an e-mail carrying it) with a role.

    Only the SHA-256 of the token is stored: the link is shown once, when it is made."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.EDITOR)
    email = models.EmailField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # None: any number of people may join through it until it expires or is revoked.
    max_uses = models.PositiveIntegerField(null=True, blank=True, default=1)
    use_count = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application", "-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=["owner", "editor", "viewer"]), name="invitation_role_valid"),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(use_count__lte=models.F("max_uses")),
                name="invitation_uses_within_max",
            ),
        ]

    def __str__(self):
        return f"{self.role} invitation to {self.application_id} ({self.email or 'link'})"


class WorkspaceEvent(models.Model):
    """The workspace's own history (members, roles, invitations, projects), append-only.

    It outlives what it describes: a deleted workspace keeps its name here, a removed member theirs."""

    class Kind(models.TextChoices):
        WORKSPACE_CREATED = "workspace_created", "workspace created"
        WORKSPACE_RENAMED = "workspace_renamed", "workspace renamed"
        WORKSPACE_DELETED = "workspace_deleted", "workspace deleted"
        MEMBER_JOINED = "member_joined", "member joined"
        ROLE_CHANGED = "role_changed", "role changed"
        MEMBER_REMOVED = "member_removed", "member removed"
        MEMBER_LEFT = "member_left", "member left"
        INVITATION_CREATED = "invitation_created", "invitation created"
        INVITATION_REVOKED = "invitation_revoked", "invitation revoked"
        PROJECT_CREATED = "project_created", "project created"
        PROJECT_RENAMED = "project_renamed", "project renamed"
        PROJECT_ARCHIVED = "project_archived", "project archived"
        PROJECT_UNARCHIVED = "project_unarchived", "project unarchived"
        PROJECT_DELETED = "project_deleted", "project deleted"
        PROJECT_MOVED_IN = "project_moved_in", "project moved in"
        PROJECT_MOVED_OUT = "project_moved_out", "project moved out"

    application = models.ForeignKey(
        Application, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    application_name = models.CharField(max_length=100)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    # Whom or what it is about: a member (their name kept as it was) or a project.
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject_name = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["application", "-at"], name="workspaceevent_recent")]

    def __str__(self):
        return f"{self.get_kind_display()} in {self.application_name}: {self.subject_name}"


class KeyRedirect(models.Model):
    """An old key of a card that moved to another project: KEY-n of `project` now opens `task`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="keyredirect_unique_key")]

    def __str__(self):
        return f"{self.project_id}-{self.number} -> {self.task_id}"


class Label(models.Model):
    """A project's label: a name and a colour from LABEL_COLOURS. Cards hold their ids (Task.label_ids)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40)
    colour = models.CharField(max_length=7, choices=LABEL_COLOURS, default=LABEL_COLOURS[0][0])

    class Meta:
        ordering = ["project", Lower("name"), "pk"]
        constraints = [
            models.UniqueConstraint("project", Lower("name"), name="label_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="label_name_not_empty"),
        ]

    def __str__(self):
        return self.name


class Comment(models.Model):
    """A comment on a card: Markdown, rendered and cleaned on save like descriptions."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(max_length=10000)
    body_html = models.TextField(blank=True, default="", db_default="", editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    search = models.GeneratedField(
        expression=SearchVector("body", config="english"), output_field=SearchVectorField(), db_persist=True
    )

    class Meta:
        ordering = ["task", "created_at", "pk"]
        indexes = [
            models.Index(fields=["task", "created_at"], name="comment_task_created"),
            GinIndex(fields=["search"], name="comment_search"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="comment_body_not_empty")]

    def __str__(self):
        return f"Comment {self.pk} on {self.task_id}"

    def save(self, *args, **kwargs):
        """Save with body_html rendered from body (boards.text, as descriptions): pages only show that."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "body" in update_fields:
            self.body_html = markdown.render_markdown(self.body)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "body_html"}
        super().save(*args, **kwargs)


class Mention(models.Model):
    """`@username` in a comment or a card's description: who was mentioned, where and by whom.
    The notifications deliver these; a description's mentions have no comment."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="mentions")
    mentioned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"], name="mention_user_recent")]

    def __str__(self):
        return f"{self.user_id} in {self.task_id}"


def attachment_path(attachment, filename: str) -> str:
    # Never the uploaded name: a random one, under the card's project, so no upload can collide or climb.
    return f"attachments/{attachment.task.project_id}/{attachment.token}"


def thumbnail_path(attachment, filename: str) -> str:
    return f"thumbnails/{attachment.task.project_id}/{attachment.token}.webp"


class Attachment(models.Model):
    """A file on a card, stored through Django's storage API; the file goes after the row's commit."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    token = models.CharField(max_length=32, unique=True, editable=False)
    file = models.FileField(upload_to=attachment_path, max_length=255)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=255, blank=True)
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    # Sniffed from the content, never taken from the upload's headers.
    content_type = models.CharField(max_length=100)
    is_image = models.BooleanField(default=False)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["task", "created_at", "pk"]

    def __str__(self):
        return self.name
