"""services.column_counts: each column's live cards, from the counts row where a column is alone
in its category, from one GROUP BY over the others; never a scan of the whole project."""

import pytest

from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Task
from tests.boards.conftest import add_tasks

pytestmark = pytest.mark.django_db


def recount(project) -> dict[int, int]:
    return {column.pk: Task.objects.live().filter(task_status=column).count() for column in project.task_statuses.all()}


@pytest.fixture
def filled(project, columns):
    for n, column in enumerate(columns.values(), start=1):
        add_tasks(project, column, n)
    task = Task.objects.filter(task_status=columns["done"]).first()
    services.archive_task(project=project, task_id=task.pk)  # archived cards are not counted
    return project


class TestColumnCounts:
    def test_default_board_matches_a_recount_with_one_query(self, filled, django_assert_num_queries):
        with django_assert_num_queries(1):
            counts = services.column_counts(filled)
        assert counts == recount(filled)

    def test_columns_sharing_a_category_are_counted(self, filled, columns, owner):
        extra = services.add_column(project=filled, name="Also active", category="active")
        add_tasks(filled, extra, 4)
        counts = services.column_counts(filled)
        assert counts == recount(filled)
        assert counts[extra.pk] == 4 and counts[columns["active"].pk] == 2

    def test_category_change_is_seen_at_once(self, filled, columns):
        services.update_column(project=filled, status_id=columns["review"].pk, name="Checked", category="done")
        assert services.column_counts(filled) == recount(filled)

    def test_project_without_counts_row_is_counted(self, filled):
        ProjectTaskStatusAgg.objects.filter(pk=filled.pk).delete()
        filled = type(filled).objects.get(pk=filled.pk)
        assert services.column_counts(filled) == recount(filled)
