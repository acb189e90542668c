"""Exact live counts per project, kept by the handlers in aggregates.signals."""

from django.db import models
from django.db.models import F, Q

from boards.models import Category, Project

COUNT_FIELDS = {category.value: f"{category.value}_tasks" for category in Category}


class ProjectTaskStatusAgg(models.Model):
    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="status_aggregation"
    )
    total_tasks = models.IntegerField(default=0)
    todo_tasks = models.IntegerField(default=0)
    active_tasks = models.IntegerField(default=0)
    review_tasks = models.IntegerField(default=0)
    issue_tasks = models.IntegerField(default=0)
    done_tasks = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "project task counts"
        verbose_name_plural = "project task counts"
        # Never clamped: a count below zero is a bug that must fail loudly.
        constraints = [
            models.CheckConstraint(condition=Q(**{f"{name}__gte": 0}), name=f"agg_{name}_nonnegative")
            for name in ["total_tasks", *COUNT_FIELDS.values()]
        ] + [
            models.CheckConstraint(
                condition=Q(
                    total_tasks=F("todo_tasks")
                    + F("active_tasks")
                    + F("review_tasks")
                    + F("issue_tasks")
                    + F("done_tasks")
                ),
                name="agg_total_is_sum",
            )
        ]

    def __str__(self):
        return f"counts of {self.project_id}"

    def as_counts(self) -> dict[str, int]:
        return {category: getattr(self, field) for category, field in COUNT_FIELDS.items()}

    @property
    def done_percent(self) -> int:
        return round(100 * self.done_tasks / self.total_tasks) if self.total_tasks else 0
