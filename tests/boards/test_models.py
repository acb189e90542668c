import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Category, Project, Task, TaskStatus
from tests.factories import make_project
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


class TaskForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = ["project", "task_status", "title"]


@pytest.fixture
def other_project(application):
    return make_project(application, name="Operations", key="OPS")


@pytest.fixture
def task(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="Write docs", reporter=owner)


class TestNewProject:
    def test_gets_the_five_default_columns_in_order(self, project):
        assert list(project.task_statuses.order_by("position").values_list("name", "category", "position")) == [
            ("Todo", "todo", 0),
            ("In Progress", "active", 1),
            ("In Review", "review", 2),
            ("Issue", "issue", 3),
            ("Done", "done", 4),
        ]

    def test_created_directly_still_gets_columns_and_counts_row(self, application):
        project = Project.objects.create(application=application, name="Direct", key="DIR")
        assert project.task_statuses.count() == 5
        assert ProjectTaskStatusAgg.objects.filter(pk=project.pk, total_tasks=0).exists()
        assert_counts_exact(project)

    def test_counts_row_is_part_of_the_creating_transaction(self, application):
        with pytest.raises(RuntimeError), transaction.atomic():
            project = Project.objects.create(application=application, name="Gone", key="GONE")
            assert ProjectTaskStatusAgg.objects.filter(pk=project.pk).exists()
            raise RuntimeError("roll back")
        assert not Project.objects.filter(key="GONE").exists()
        assert not ProjectTaskStatusAgg.objects.filter(pk=project.pk).exists()
        assert not TaskStatus.objects.filter(project_id=project.pk).exists()


class TestTaskStatusOfAnotherProject:
    def test_save_refuses_it(self, project, other_project, owner):
        foreign = other_project.task_statuses.first()
        task = Task(project=project, task_status=foreign, title="Misplaced", reporter=owner)
        with pytest.raises(ValidationError) as error:
            task.save()
        assert error.value.message_dict == {"task_status": ["This column belongs to another project."]}
        assert not Task.objects.exists()

    def test_save_refuses_it_when_moving(self, project, other_project, task):
        task.task_status_id = other_project.task_statuses.first().pk
        with pytest.raises(ValidationError):
            task.save()
        task.refresh_from_db()
        assert task.task_status.project_id == project.pk
        assert_counts_exact(project, other_project)

    def test_model_form_shows_a_field_error(self, project, other_project):
        form = TaskForm(
            data={"project": project.pk, "task_status": other_project.task_statuses.first().pk, "title": "Misplaced"}
        )
        assert not form.is_valid()
        assert form.errors == {"task_status": ["This column belongs to another project."]}

    def test_model_form_accepts_own_column(self, project, columns):
        form = TaskForm(data={"project": project.pk, "task_status": columns["done"].pk, "title": "Fine"})
        assert form.is_valid(), form.errors
        form.save()
        assert_counts_exact(project)
        assert ProjectTaskStatusAgg.objects.get(pk=project.pk).done_tasks == 1

    def test_operations_refuse_it(self, project, other_project, task, owner):
        foreign = other_project.task_statuses.first()
        with pytest.raises(ValidationError):
            services.create_task(project=project, status_id=foreign.pk, title="Misplaced", reporter=owner)
        with pytest.raises(ValidationError):
            services.move_task(project=project, task_id=task.pk, status_id=foreign.pk)
        with pytest.raises(ValidationError):
            services.bulk_move_tasks(project=project, task_ids=[task.pk], status_id=foreign.pk)
        with pytest.raises(ValidationError):
            services.bulk_create_tasks(project=project, tasks=[Task(task_status=foreign, title="Misplaced")])
        task.refresh_from_db()
        assert task.task_status.project_id == project.pk
        assert Task.objects.count() == 1
        assert_counts_exact(project, other_project)

    def test_database_refuses_it(self, project, other_project, task):
        foreign = other_project.task_statuses.first()
        with (
            pytest.raises(IntegrityError, match="task_status_same_project"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET CONSTRAINTS task_status_same_project IMMEDIATE")
            cursor.execute("UPDATE boards_task SET task_status_id = %s WHERE id = %s", [foreign.pk, task.pk])


class TestConstraints:
    def test_counts_cannot_go_below_zero(self, project):
        fields = ["todo_tasks", "active_tasks", "review_tasks", "issue_tasks", "done_tasks"]
        for field, other in zip(fields, fields[1:] + fields[:1], strict=True):
            # The total stays the sum, so only the CHECK (… >= 0) can refuse this.
            with (
                pytest.raises(IntegrityError, match=f"agg_{field}_nonnegative"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(
                    f"UPDATE aggregates_projecttaskstatusagg SET {field} = {field} - 1, {other} = {other} + 1 "
                    "WHERE project_id = %s",
                    [project.pk],
                )
        with connection.cursor() as cursor:
            checks = connection.introspection.get_constraints(cursor, ProjectTaskStatusAgg._meta.db_table)
        for field in ["total_tasks", *fields]:
            assert checks[f"agg_{field}_nonnegative"]["check"]

    def test_column_names_are_unique_per_project(self, project, other_project):
        with pytest.raises(IntegrityError, match="taskstatus_unique_name"), transaction.atomic():
            TaskStatus.objects.create(project=project, name="Done", category=Category.DONE, position=9)
        # Another project may use the same name.
        TaskStatus.objects.create(project=other_project, name="Shipped", category=Category.DONE, position=9)
        TaskStatus.objects.create(project=project, name="Shipped", category=Category.DONE, position=9)

    def test_category_must_be_one_of_the_choices(self, project):
        with pytest.raises(IntegrityError, match="taskstatus_category_valid"), transaction.atomic():
            TaskStatus.objects.create(project=project, name="Limbo", category="limbo", position=9)

    def test_indexes_exist(self):
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, Task._meta.db_table)
        assert constraints["task_board_live"]["columns"] == ["project_id", "task_status_id", "position"]
        assert constraints["task_project_status"]["columns"] == ["project_id", "task_status_id"]


class TestColumnDeletion:
    def test_column_holding_cards_is_refused(self, project, columns, task):
        with pytest.raises(ValidationError) as error:
            columns["todo"].delete()
        assert "“Todo” still holds 1 card(s)" in error.value.messages[0]
        assert TaskStatus.objects.filter(pk=columns["todo"].pk).exists()

    def test_archived_cards_count_too(self, project, columns, task):
        services.archive_task(project=project, task_id=task.pk)
        with pytest.raises(ValidationError, match="archived ones included"):
            services.delete_column(project=project, status_id=columns["todo"].pk)
        assert TaskStatus.objects.filter(pk=columns["todo"].pk).exists()

    def test_empty_column_is_deleted(self, project, columns, task):
        services.delete_column(project=project, status_id=columns["review"].pk)
        assert not TaskStatus.objects.filter(pk=columns["review"].pk).exists()
        assert_counts_exact(project)
