import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Category, Task
from tests.factories import make_project
from tests.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db(transaction=False)


def agg(project):
    return ProjectTaskStatusAgg.objects.get(pk=project.pk)


class TestOperationsKeepCountsExact:
    def test_new_project_has_row_and_todo_status(self, project, columns):
        row = agg(project)
        assert row.total_tasks == 0
        project.refresh_from_db()
        assert project.derived_status == columns[Category.TODO]

    def test_create_move_archive_unarchive_delete(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=owner)
        assert agg(project).todo_tasks == 1
        services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk)
        row = agg(project)
        assert (row.todo_tasks, row.active_tasks, row.total_tasks) == (0, 1, 1)
        project.refresh_from_db()
        assert project.derived_status == columns["active"]
        services.archive_task(project=project, task_id=task.pk)
        assert agg(project).total_tasks == 0
        services.unarchive_task(project=project, task_id=task.pk)
        assert agg(project).active_tasks == 1
        services.delete_task(project=project, task_id=task.pk)
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)

    def test_bulk_operations(self, project, columns, owner):
        tasks = [
            services.create_task(project=project, status_id=columns["todo"].pk, title=f"T{i}", reporter=owner)
            for i in range(5)
        ]
        services.bulk_move_tasks(project=project, task_ids=[t.pk for t in tasks[:3]], status_id=columns["done"].pk)
        assert_counts_exact(project)
        services.bulk_archive_tasks(project=project, task_ids=[t.pk for t in tasks[1:4]])
        assert_counts_exact(project)

    def test_category_change_moves_counts(self, project, columns, owner):
        for i in range(3):
            services.create_task(project=project, status_id=columns["review"].pk, title=f"R{i}", reporter=owner)
        services.update_column(project=project, status_id=columns["review"].pk, name="Checked", category="done")
        row = agg(project)
        assert (row.review_tasks, row.done_tasks) == (0, 3)
        assert_counts_exact(project)

    def test_cross_project_status_refused(self, project, owner, application):
        other = make_project(application, name="Other", key="OTH")
        column = other.task_statuses.first()
        with pytest.raises(ValidationError):
            services.create_task(project=project, status_id=column.pk, title="x", reporter=owner)
        task = services.create_task(
            project=project, status_id=project.task_statuses.first().pk, title="y", reporter=owner
        )
        task.task_status = column
        with pytest.raises(ValidationError):
            task.save()
        assert_counts_exact(project, other)

    def test_rollback_leaves_counts(self, project, columns, owner):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.create_task(project=project, status_id=columns["todo"].pk, title="gone", reporter=owner)
            raise RuntimeError
        assert agg(project).total_tasks == 0

    def test_missing_row_bootstraps(self, project, columns, owner):
        for i in range(4):
            services.create_task(project=project, status_id=columns["issue"].pk, title=f"I{i}", reporter=owner)
        ProjectTaskStatusAgg.objects.filter(pk=project.pk).delete()
        services.create_task(project=project, status_id=columns["todo"].pk, title="next", reporter=owner)
        row = agg(project)
        assert (row.issue_tasks, row.todo_tasks, row.total_tasks) == (4, 1, 5)
        assert_counts_exact(project)

    def test_update_refuses_counted_fields(self, project, columns):
        with pytest.raises(TypeError, match="bulk_move_tasks"):
            Task.objects.filter(project=project).update(task_status=columns["done"])

    def test_column_with_cards_not_deleted(self, project, columns, owner):
        services.create_task(project=project, status_id=columns["todo"].pk, title="x", reporter=owner)
        with pytest.raises(ValidationError, match="still holds 1 card"):
            services.delete_column(project=project, status_id=columns["todo"].pk)

    def test_project_delete(self, project, columns, owner):
        services.create_task(project=project, status_id=columns["todo"].pk, title="x", reporter=owner)
        project.delete()
        assert not ProjectTaskStatusAgg.objects.exists()
