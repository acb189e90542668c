"""queries.column_counts: each column's live cards, from the counts row where a column is alone
in its category, from one GROUP BY over the others; never a scan of the whole project."""

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404

from aggregates.models import ProjectTaskStatusAgg
from boards import queries, services
from boards.models import Project, Task, TaskStatus
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
            counts = queries.column_counts(filled)
        assert counts == recount(filled)

    def test_columns_sharing_a_category_are_counted(self, filled, columns, owner):
        extra = services.add_column(project=filled, name="Also active", category="active")
        add_tasks(filled, extra, 4)
        counts = queries.column_counts(filled)
        assert counts == recount(filled)
        assert counts[extra.pk] == 4 and counts[columns["active"].pk] == 2

    def test_category_change_is_seen_at_once(self, filled, columns):
        services.update_column(project=filled, status_id=columns["review"].pk, name="Checked", category="done")
        assert queries.column_counts(filled) == recount(filled)

    def test_project_without_counts_row_is_counted(self, filled):
        ProjectTaskStatusAgg.objects.filter(pk=filled.pk).delete()
        filled = type(filled).objects.get(pk=filled.pk)
        assert queries.column_counts(filled) == recount(filled)


def test_card_faces_leave_descriptions_unread(project, columns, owner):
    """The board, its column pages and its live fragments read cards without their text: a long
    description would otherwise travel with every card of a 10,000-card board."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from boards.live import fragments

    task = services.create_task(
        project=project, status_id=columns["todo"].pk, title="t", reporter=owner, description="x" * 5000
    )
    with CaptureQueriesContext(connection) as read:
        queries.first_pages(project, queries.BoardFilter(), list(project.task_statuses.all()))
        queries.column_page(project, columns["todo"], queries.BoardFilter(), (-1e9, 0))
        fragments.render_change(project_id=project.pk, task_ids=[task.pk], column_ids=[], seq=2, first_seq=2)
    card_reads = [q["sql"] for q in read.captured_queries if 'FROM "boards_task"' in q["sql"]]
    assert len(card_reads) >= 3
    text_columns = ('"boards_task"."description",', '"boards_task"."description_html"')
    assert not [sql for sql in card_reads if any(column in sql for column in text_columns)]


def loaded(instance, *relations: str) -> dict:
    """Every field a read loaded into an instance and the relations it joined, as plain values."""
    values = {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
    for relation in relations:
        related = instance
        for step in relation.split("__"):
            related = getattr(related, step, None) if related is not None else None
        values[relation] = None if related is None else loaded(related)
    return values


class TestCompiledReads:
    """The reads compiled once (boards.compiled) answer what their plain ORM queryset answers."""

    def test_the_project_and_role_are_the_querysets(self, project, owner, viewer, outsider, columns):
        services.create_task(project=project, status_id=columns["done"].pk, title="Done", reporter=owner)
        project.refresh_from_db()
        assert project.derived_status_id is not None
        for user, role in [(owner, "owner"), (viewer, "viewer")]:
            ours = queries.get_project_for(user, project.pk)
            plain = (
                queries.projects_for(user)
                .select_related("application", "status_aggregation", "derived_status")
                .get(pk=project.pk)
            )
            relations = ("application", "status_aggregation", "derived_status")
            assert loaded(ours, *relations) == loaded(plain, *relations)
            assert ours.role == plain.role == role
        with pytest.raises(Http404):
            queries.get_project_for(outsider, project.pk)

    def test_a_project_without_counts_row_or_derived_status(self, project, owner):
        ProjectTaskStatusAgg.objects.filter(project=project).delete()
        Project.objects.filter(pk=project.pk).update(derived_status=None)
        ours = queries.get_project_for(owner, project.pk)
        assert ours.derived_status is None
        with pytest.raises(ObjectDoesNotExist):
            ours.status_aggregation  # noqa: B018 - as the ORM: a missing one-to-one raises

    @pytest.mark.parametrize("project_id", [2**63, -(2**63) - 1, "12a", None])
    def test_ids_out_of_range_are_404_not_500(self, owner, project_id):
        with pytest.raises(Http404):
            queries.get_project_for(owner, project_id)

    def test_board_state_is_the_querysets(self, project, columns, django_assert_num_queries):
        with django_assert_num_queries(1):
            state = queries.board_state(project.pk)
        plain = list(
            TaskStatus.objects.filter(project=project)
            .select_related("project", "project__status_aggregation")
            .order_by("position", "pk")
        )
        assert [loaded(c, "project", "project__status_aggregation") for c in state.columns] == [
            loaded(c, "project", "project__status_aggregation") for c in plain
        ]

    def test_one_query_whatever_the_calls(self, project, owner, django_assert_num_queries):
        queries.get_project_for(owner, project.pk)
        with django_assert_num_queries(1):
            queries.get_project_for(owner, project.pk)

    @pytest.mark.parametrize("column_count", [1, 5, 7])
    def test_the_plain_first_pages_are_the_querysets(self, project, columns, owner, column_count):
        """first_pages of an unfiltered board (compiled once per number of columns) loads what the
        ORM's UNION loads: every card field but the texts, the assignee and their profile."""
        for extra in range(column_count - len(columns)):
            services.add_column(project=project, name=f"Extra {extra}", category="todo")
        board = list(project.task_statuses.order_by("position", "pk"))[:column_count]
        for index, column in enumerate(board):
            add_tasks(project, column, 3 + index * 30, assignee=owner if index % 2 else None)  # some past a page
        ours = queries.first_pages(project, queries.BoardFilter(), board)
        assert all({"description", "description_html"} <= task.get_deferred_fields() for task in ours)
        plain = sorted(
            queries._first_pages_query(project.pk, [column.pk for column in board]),
            key=lambda task: (task.task_status_id, task.position, task.pk),
        )
        assert [loaded(task, "assignee", "assignee__profile") for task in ours] == [
            loaded(task, "assignee", "assignee__profile") for task in plain
        ]
        assert len(ours) == sum(min(3 + index * 30, queries.PAGE_SIZE + 1) for index in range(column_count))
