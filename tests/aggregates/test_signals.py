import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aggregates.counts import (
    AGG_TABLE,
    CountDriftError,
    apply_deltas,
    derive_category,
    derived_category_in_sql,
    refresh_derived_status,
)
from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Category, Project, Task, TaskStatus
from boards.signals import StoredState, handing_over
from tests.factories import make_project
from tests.support.helpers import DERIVED_RULES, assert_counts_exact

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


def agg_writes(captured) -> list[str]:
    # On PostgreSQL the counts UPDATE leads a statement that also writes the derived status.
    return [q["sql"] for q in captured.captured_queries if f"UPDATE {AGG_TABLE} SET" in q["sql"]]


def project_writes(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "UPDATE boards_project SET" in q["sql"]]


class TestHandedOverState:
    """services.locks reads a card's stored state with its locks and hands it to the handlers for
    one save (boards.signals.handing_over); anything else must read for itself."""

    def test_used_only_inside_its_block_and_for_its_instance(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        # A state that lies: it says the card is in done.
        wrong = StoredState(project_id=project.pk, category="done", live=True, has_row=True, new_category="active")
        with transaction.atomic():
            with handing_over(task, wrong):
                pass
            task.task_status = columns["active"]
            task.save()  # after the block: the handler reads the stored state itself
        assert_counts_exact(project)
        other = Task.objects.get(pk=task.pk)
        with transaction.atomic(), handing_over(task, wrong):
            other.task_status = columns["review"]
            other.save()  # another instance of the same card: not its state
        assert_counts_exact(project)

    def test_one_write_only(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        state = StoredState(project_id=project.pk, category="todo", live=True, has_row=True, new_category="active")
        with transaction.atomic(), handing_over(task, state):
            task.task_status = columns["active"]
            task.save()  # uses the state: todo -> active
            task.task_status = columns["done"]
            task.save()  # the state is spent: reads active from the row, not todo
        assert_counts_exact(project)


class TestWhatEachWriteCosts:
    def test_move_within_a_category_writes_nothing_to_the_counts(self, project, columns, owner):
        second = services.add_column(project=project, name="Doing too", category="active")
        task = services.create_task(project=project, status_id=columns["active"].pk, title="t", reporter=owner)
        with CaptureQueriesContext(connection) as captured:
            services.move_task(project=project, task_id=task.pk, status_id=second.pk)
        assert agg_writes(captured) == []
        assert project_writes(captured) == []
        assert Task.objects.get(pk=task.pk).task_status == second
        assert_counts_exact(project)

    def test_move_across_categories_is_one_counts_update(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        with CaptureQueriesContext(connection) as captured:
            services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)
        (update,) = agg_writes(captured)
        assert "todo_tasks = todo_tasks + " in update and "done_tasks = done_tasks + " in update
        assert "total_tasks" not in update.split("SET")[1].split("WHERE")[0]  # total unchanged by a move
        assert "COUNT(" not in " ".join(q["sql"].upper() for q in captured.captured_queries)
        assert_counts_exact(project)

    @pytest.mark.parametrize("operation", ["create", "move", "archive", "unarchive", "delete"])
    def test_costs_do_not_grow_with_the_project(self, project, columns, owner, operation, django_assert_num_queries):
        def run():
            task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
            if operation == "unarchive":
                services.archive_task(project=project, task_id=task.pk)
            with CaptureQueriesContext(connection) as captured:
                if operation == "create":
                    services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
                elif operation == "move":
                    services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)
                else:
                    getattr(services, f"{operation}_task")(project=project, task_id=task.pk)
            return len(captured)

        small = run()
        services.bulk_create_tasks(
            project=project,
            tasks=[Task(title=f"x{i}", task_status=columns["todo"], position=float(i)) for i in range(300)],
        )
        assert run() == small
        assert_counts_exact(project)

    def test_save_of_uncounted_fields_skips_the_handlers(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        task.archived_at = timezone.now()  # in memory only: update_fields leaves it out
        with CaptureQueriesContext(connection) as captured:
            task.save(update_fields=["title"])
        assert [q["sql"].split()[0] for q in captured.captured_queries] == ["UPDATE"]
        assert_counts_exact(project)


class TestNeverClamped:
    def test_decrement_below_zero_is_a_loud_error(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        ProjectTaskStatusAgg.objects.filter(pk=project.pk).update(todo_tasks=0, total_tasks=0)
        with pytest.raises(CountDriftError, match="would make a count negative"):
            services.archive_task(project=project, task_id=task.pk)
        assert Task.objects.get(pk=task.pk).archived_at is None  # the write went with it
        assert agg(project).todo_tasks == 0

    def test_missing_row_inside_apply_is_a_loud_error(self, project):
        ProjectTaskStatusAgg.objects.filter(pk=project.pk).delete()
        with pytest.raises(CountDriftError, match="no aggregate row"), transaction.atomic():
            apply_deltas({(project.pk, "todo"): 1})


class TestColumnsAndProjects:
    def test_column_category_change_with_update_fields(self, project, columns, owner):
        services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        column = columns["todo"]
        column.category = "done"
        column.name = "Renamed"
        column.save(update_fields=["name"])  # the category is not written: the counts stay
        assert TaskStatus.objects.get(pk=column.pk).category == "todo"
        assert_counts_exact(project)
        column.save()
        assert agg(project).done_tasks == 1
        assert_counts_exact(project)

    def test_archived_cards_do_not_move_with_their_column(self, project, columns, owner):
        kept = services.create_task(project=project, status_id=columns["todo"].pk, title="a", reporter=owner)
        gone = services.create_task(project=project, status_id=columns["todo"].pk, title="b", reporter=owner)
        services.archive_task(project=project, task_id=gone.pk)
        services.update_column(project=project, status_id=columns["todo"].pk, name="Todo", category="issue")
        assert (agg(project).issue_tasks, agg(project).todo_tasks) == (1, 0)
        services.unarchive_task(project=project, task_id=gone.pk)
        assert agg(project).issue_tasks == 2
        assert Task.objects.get(pk=kept.pk).task_status_id == columns["todo"].pk
        assert_counts_exact(project)

    def test_deleting_a_project_leaves_others_exact(self, project, columns, owner, application):
        other = make_project(application, name="Other", key="OTH")
        services.create_task(project=other, status_id=other.task_statuses.first().pk, title="o", reporter=owner)
        services.create_task(project=project, status_id=columns["done"].pk, title="p", reporter=owner)
        with CaptureQueriesContext(connection) as captured:
            project.delete()
        assert agg_writes(captured) == []  # its row goes with it; no delta per card
        assert not ProjectTaskStatusAgg.objects.filter(pk=project.pk).exists()
        assert_counts_exact(other)

    def test_moving_a_card_to_another_project(self, project, columns, owner, application):
        other = make_project(application, name="Other", key="OTH")
        task = services.create_task(project=project, status_id=columns["issue"].pk, title="t", reporter=owner)
        task.project = other
        task.task_status = other.task_statuses.get(category="review")
        task.save()
        assert (agg(project).total_tasks, agg(other).review_tasks) == (0, 1)
        assert_counts_exact(project, other)

    def test_first_column_of_the_category_by_position(self, project, columns, owner):
        services.create_task(project=project, status_id=columns["done"].pk, title="t", reporter=owner)
        shipped = services.add_column(project=project, name="Shipped", category="done")
        project.refresh_from_db()
        assert project.derived_status == columns["done"]
        order = [c.pk for c in project.task_statuses.order_by("position") if c.pk != shipped.pk]
        services.reorder_columns(project=project, status_ids=[shipped.pk, *order])
        project.refresh_from_db()
        assert project.derived_status == shipped
        services.update_column(project=project, status_id=shipped.pk, name="Shipped", category="todo")
        services.update_column(project=project, status_id=columns["done"].pk, name="Done", category="todo")
        project.refresh_from_db()
        assert project.derived_status.category == "todo"  # the card's column is a todo column now
        assert_counts_exact(project)


class TestDerivedStatus:
    @pytest.mark.parametrize(("spread", "category"), DERIVED_RULES)
    def test_rule(self, spread, category):
        assert derive_category({**dict.fromkeys(Category.values, 0), **spread}) == category

    def test_sql_rule_matches_python_rule_everywhere(self):
        # The write path derives in SQL (aggregates.counts.derive_category_sql), the rest in Python.
        for spread in itertools.product(range(3), repeat=len(Category.values)):
            counts = dict(zip(Category.values, spread, strict=True))
            assert derived_category_in_sql(counts) == derive_category(counts), counts

    @pytest.mark.parametrize(("spread", "category"), DERIVED_RULES)
    def test_rule_through_operations(self, project, columns, owner, spread, category):
        for cat, n in spread.items():
            for i in range(n):
                task = services.create_task(project=project, status_id=columns["todo"].pk, title=f"{i}", reporter=owner)
                if cat != "todo":
                    services.move_task(project=project, task_id=task.pk, status_id=columns[cat].pk)
        project.refresh_from_db()
        assert project.derived_status == columns[category]
        assert_counts_exact(project)

    def test_no_column_of_the_category_is_null(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["issue"].pk, title="t", reporter=owner)
        services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)
        services.delete_column(project=project, status_id=columns["issue"].pk)
        services.move_task(project=project, task_id=task.pk, status_id=columns["todo"].pk)
        services.update_column(project=project, status_id=columns["todo"].pk, name="Stuck", category="issue")
        project.refresh_from_db()
        assert project.derived_status == columns["todo"]
        services.delete_task(project=project, task_id=task.pk)
        services.delete_column(project=project, status_id=columns["todo"].pk)
        project.refresh_from_db()
        assert project.derived_status is None  # no live tasks: todo, and no todo column is left
        assert_counts_exact(project)

    def test_written_only_when_it_changes(self, project, columns, owner):
        def version():
            # The row's physical version: an UPDATE moves it, even one that writes the same value.
            with connection.cursor() as cursor:
                cursor.execute("SELECT ctid::text FROM boards_project WHERE id = %s", [project.pk])
                return cursor.fetchone()[0]

        first = services.create_task(project=project, status_id=columns["active"].pk, title="a", reporter=owner)
        before = version()
        with CaptureQueriesContext(connection) as captured:
            services.create_task(project=project, status_id=columns["todo"].pk, title="b", reporter=owner)
        (status_update,) = project_writes(captured)  # asked, but with a guard that matched no row
        assert "IS DISTINCT FROM" in status_update
        assert version() == before
        services.move_task(project=project, task_id=first.pk, status_id=columns["issue"].pk)
        assert version() != before
        project.refresh_from_db()
        assert project.derived_status == columns["issue"]


class TestAdminKeepsCountsExact:
    """Django admin views, driven through the test client as a superuser."""

    @staticmethod
    def form(task, **changes) -> dict:
        data = {
            "project": task.project_id,
            "task_status": task.task_status_id,
            "title": task.title,
            "description": task.description,
            "assignee": task.assignee_id or "",
            "reporter": task.reporter_id or "",
            "position": task.position,
            "archived_at_0": "",
            "archived_at_1": "",
        }
        data.update(changes)
        return data

    def test_add(self, admin_client, project, columns):
        blank = Task(project=project, task_status=columns["review"], title="from admin")
        response = admin_client.post(reverse("admin:boards_task_add"), self.form(blank))
        assert response.status_code == 302, response.content.decode()[:2000]
        assert agg(project).review_tasks == 1
        assert_counts_exact(project)

    def test_change_moves_and_archives(self, admin_client, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        url = reverse("admin:boards_task_change", args=[task.pk])
        response = admin_client.post(url, self.form(task, task_status=columns["issue"].pk))
        assert response.status_code == 302, response.content.decode()[:2000]
        assert agg(project).issue_tasks == 1
        project.refresh_from_db()
        assert project.derived_status == columns["issue"]
        task.refresh_from_db()
        response = admin_client.post(url, self.form(task, archived_at_0="2026-01-02", archived_at_1="10:00:00"))
        assert response.status_code == 302
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)

    def test_change_to_a_column_of_another_project_is_refused(self, admin_client, project, columns, owner, application):
        other = make_project(application, name="Other", key="OTH")
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        url = reverse("admin:boards_task_change", args=[task.pk])
        response = admin_client.post(url, self.form(task, task_status=other.task_statuses.first().pk))
        assert response.status_code == 200  # the form comes back with the error
        assert "another project" in response.content.decode()
        assert_counts_exact(project, other)

    def test_delete(self, admin_client, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["done"].pk, title="t", reporter=owner)
        response = admin_client.post(reverse("admin:boards_task_delete", args=[task.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)

    def test_delete_selected_action(self, admin_client, project, columns, owner):
        tasks = [
            services.create_task(project=project, status_id=columns[c].pk, title=c, reporter=owner)
            for c in ["todo", "active", "done"]
        ]
        response = admin_client.post(
            reverse("admin:boards_task_changelist"),
            {"action": "delete_selected", "_selected_action": [t.pk for t in tasks[:2]], "post": "yes"},
        )
        assert response.status_code == 302
        assert (agg(project).total_tasks, agg(project).done_tasks) == (1, 1)
        assert_counts_exact(project)

    def test_archive_selected_action(self, admin_client, project, columns, owner, application):
        other = make_project(application, name="Other", key="OTH")
        tasks = [
            services.create_task(project=project, status_id=columns[c].pk, title=c, reporter=owner)
            for c in ["todo", "active", "issue"]
        ]
        tasks.append(
            services.create_task(project=other, status_id=other.task_statuses.first().pk, title="o", reporter=owner)
        )
        services.archive_task(project=project, task_id=tasks[0].pk)  # already archived: not counted twice
        response = admin_client.post(
            reverse("admin:boards_task_changelist"),
            {"action": "archive_selected", "_selected_action": [t.pk for t in tasks[:2] + tasks[3:]]},
        )
        assert response.status_code == 302
        assert (agg(project).total_tasks, agg(project).issue_tasks, agg(other).total_tasks) == (1, 1, 0)
        assert_counts_exact(project, other)

    def test_column_category_change(self, admin_client, project, columns, owner):
        services.create_task(project=project, status_id=columns["review"].pk, title="t", reporter=owner)
        column = columns["review"]
        response = admin_client.post(
            reverse("admin:boards_taskstatus_change", args=[column.pk]),
            {"name": column.name, "category": "done", "position": column.position, "wip_limit": ""},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        assert (agg(project).review_tasks, agg(project).done_tasks) == (0, 1)
        assert_counts_exact(project)

    def test_project_delete(self, admin_client, project, columns, owner):
        services.create_task(project=project, status_id=columns["review"].pk, title="t", reporter=owner)
        response = admin_client.post(reverse("admin:boards_project_delete", args=[project.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert not ProjectTaskStatusAgg.objects.exists()
        assert_counts_exact()

    def test_workspace_delete(self, admin_client, project, columns, owner, application):
        services.create_task(project=project, status_id=columns["review"].pk, title="t", reporter=owner)
        response = admin_client.post(reverse("admin:boards_application_delete", args=[application.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert not ProjectTaskStatusAgg.objects.exists()

    def test_counts_rows_cannot_be_deleted_from_their_own_pages(self, admin_client, project):
        url = reverse("admin:aggregates_projecttaskstatusagg_delete", args=[project.pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
        response = admin_client.post(
            reverse("admin:aggregates_projecttaskstatusagg_changelist"),
            {"action": "delete_selected", "_selected_action": [project.pk], "post": "yes"},
        )
        assert ProjectTaskStatusAgg.objects.filter(pk=project.pk).exists()
        assert response.status_code in (200, 302)


@pytest.mark.django_db(transaction=True)
def test_rederiving_outside_a_transaction(project, columns, owner):
    """The status refresh locks the counts row, so it opens a transaction when called without one."""
    services.create_task(project=project, status_id=columns["review"].pk, title="t", reporter=owner)
    Project.objects.filter(pk=project.pk).update(derived_status=None)
    refresh_derived_status(project.pk)
    assert_counts_exact(project)


class TestUpdateFields:
    """A counted field changed in memory but left out of update_fields is not written: the
    counts follow what is written, not what the instance holds."""

    def test_archived_in_memory_moved_in_the_database(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        task.archived_at = timezone.now()
        task.task_status = columns["done"]
        task.save(update_fields=["task_status"])
        stored = Task.objects.get(pk=task.pk)
        assert (stored.archived_at, stored.task_status_id) == (None, columns["done"].pk)
        assert (agg(project).done_tasks, agg(project).total_tasks) == (1, 1)
        assert_counts_exact(project)

    def test_moved_in_memory_archived_in_the_database(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="t", reporter=owner)
        services.archive_task(project=project, task_id=task.pk)
        task = Task.objects.get(pk=task.pk)
        task.task_status = columns["issue"]
        task.archived_at = None
        task.save(update_fields=["task_status"])  # still archived: nothing live changed
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)
        task.save(update_fields=["archived_at"])  # unarchived, in the column it is stored in: issue
        assert agg(project).issue_tasks == 1
        assert_counts_exact(project)


class TestNoResurrectedCards:
    """A deleted card never comes back, and no save counts a card it did not insert. (The refused
    saves run in a savepoint of their own: the test goes on in its transaction.)"""

    @pytest.fixture
    def card(self, project, columns, owner):
        return services.create_task(project=project, status_id=columns["active"].pk, title="t", reporter=owner)

    def test_stale_copy_of_a_deleted_card_is_refused(self, project, columns, card):
        stale = Task.objects.get(pk=card.pk)
        Task.objects.get(pk=card.pk).delete()
        stale.task_status = columns["done"]
        with pytest.raises(Task.DoesNotExist, match="no longer exists"), transaction.atomic():
            stale.save()
        assert not Task.objects.filter(pk=card.pk).exists()
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)

    def test_stale_copy_saving_uncounted_fields_is_refused(self, project, card):
        stale = Task.objects.get(pk=card.pk)
        Task.objects.get(pk=card.pk).delete()
        stale.title = "edited"
        with pytest.raises(Task.DoesNotExist), transaction.atomic():
            stale.save(update_fields=["title"])
        assert not Task.objects.filter(pk=card.pk).exists()
        assert_counts_exact(project)

    def test_copy_rebuilt_from_a_payload_updates_its_card(self, project, columns, card):
        payload = {field.attname: getattr(card, field.attname) for field in Task._meta.concrete_fields}
        rebuilt = Task(**{**payload, "task_status_id": columns["done"].pk})
        assert rebuilt._state.adding
        rebuilt.save()
        assert Task.objects.filter(project=project).count() == 1
        row = agg(project)
        assert (row.active_tasks, row.done_tasks, row.total_tasks) == (0, 1, 1)
        assert_counts_exact(project)

    def test_copy_built_by_hand_without_its_number_keeps_the_cards(self, project, columns, card):
        rebuilt = Task(pk=card.pk, project=project, task_status=columns["done"], title="rebuilt")
        rebuilt.save()
        stored = Task.objects.get(pk=card.pk)
        assert (stored.title, stored.number) == ("rebuilt", card.number)
        assert (agg(project).done_tasks, agg(project).total_tasks) == (1, 1)
        assert_counts_exact(project)

    def test_copy_rebuilt_for_a_deleted_card_is_refused(self, project, columns, card):
        payload = {field.attname: getattr(card, field.attname) for field in Task._meta.concrete_fields}
        Task.objects.get(pk=card.pk).delete()
        with pytest.raises(Task.DoesNotExist), transaction.atomic():
            Task(**payload).save()
        assert not Task.objects.filter(pk=card.pk).exists()
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)

    def test_forced_insert_with_a_chosen_id_is_counted_once(self, project, columns, card):
        free_id = card.pk + 1000
        Task(pk=free_id, project=project, task_status=columns["todo"], title="restored").save(force_insert=True)
        assert agg(project).todo_tasks == 1
        assert_counts_exact(project)

    def test_delete_of_a_stale_copy_changes_nothing(self, project, card):
        stale = Task.objects.get(pk=card.pk)
        Task.objects.get(pk=card.pk).delete()
        assert stale.delete()[0] == 0
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)
