"""An import of a board from a file: uploaded, previewed, queued, run by a worker."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from boards.models import Application, Project


class ImportJob(models.Model):
    """One uploaded file on its way to becoming a project.

    The file's text is kept here (`source`) from the upload until the worker has imported it, so
    it survives until any worker on any machine runs the job; it is emptied once the import is done.
    `done`/`total` and `phase` are the progress the progress page shows, written by the worker
    outside the import's own transaction (services.Progress)."""

    class Kind(models.TextChoices):
        TRELLO = "trello", "Trello board export (JSON)"
        CSV = "csv", "CSV file"

    class Status(models.TextChoices):
        DRAFT = "draft", "Uploaded, not yet confirmed"
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed: nothing imported"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file_name = models.CharField(max_length=255, blank=True)
    source = models.TextField(blank=True)
    # What the preview page chose: the project's name and key, the columns' categories, the CSV mapping.
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    phase = models.CharField(max_length=100, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    project = models.ForeignKey(Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "queued", "running", "done", "failed"]), name="importjob_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=["trello", "csv"]), name="importjob_kind_valid"),
        ]

    def __str__(self):
        return f"Import {self.pk} ({self.kind}, {self.status})"

    def get_absolute_url(self):
        if self.status == self.Status.DRAFT:
            return reverse("import_preview", args=[self.pk])
        return reverse("import_progress", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0
