"""Data migrations, run against rows the current constraints would refuse."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection

from boards import services
from boards.models import CardNumberSequence, Task, TaskStatus
from tests.factories import make_project

pytestmark = pytest.mark.django_db

column_names_any_case = importlib.import_module("boards.migrations.0009_column_names_any_case")


def test_columns_differing_only_in_case_are_renamed_apart(project):
    with connection.cursor() as cursor:  # as before 0009 (rolled back with the test)
        cursor.execute("DROP INDEX taskstatus_unique_name")
    TaskStatus.objects.bulk_create(
        [
            TaskStatus(project=project, name="QA", position=10),
            TaskStatus(project=project, name="qa", position=11),
            TaskStatus(project=project, name="Qa (2)", position=12),
            TaskStatus(project=project, name="Qa", position=13),
        ]
    )
    column_names_any_case.rename_case_duplicates(apps, None)
    names = list(TaskStatus.objects.filter(project=project, position__gte=10).values_list("name", flat=True))
    assert names == ["QA", "qa (3)", "Qa (2)", "Qa (4)"]
    assert len(
        {name.lower() for name in TaskStatus.objects.filter(project=project).values_list("name", flat=True)}
    ) == (TaskStatus.objects.filter(project=project).count())


card_numbers = importlib.import_module("boards.migrations.0012_card_numbers")


def test_cards_from_before_numbers_get_1_to_n_per_project_in_creation_order(project, application, columns, owner):
    other = make_project(application, name="Ops", key="OPS")
    made = {project.pk: [], other.pk: []}
    for p, column in ((project, columns["todo"]), (other, other.task_statuses.first())):
        for title in ("c", "a", "b"):
            made[p.pk].append(services.create_task(project=p, status_id=column.pk, title=title, reporter=owner))
    # Creation order differs from id order: "c" was created last, "b" first (then "a").
    base = made[project.pk][0].created_at
    for tasks in made.values():
        for task, minutes in zip(tasks, (30, 20, 10), strict=True):
            Task.objects.filter(pk=task.pk).update(created_at=base - timedelta(minutes=minutes))
    with connection.cursor() as cursor:  # as before 0012 (rolled back with the test)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: ALTER TABLE refuses them
        cursor.execute(f"ALTER TABLE {Task._meta.db_table} ALTER COLUMN number DROP NOT NULL")
    Task.objects.update(number=None)
    CardNumberSequence.objects.update(last_number=0)

    class Editor:
        connection = connection

    card_numbers.number_cards(apps, Editor())

    for p in (project, other):
        by_creation = list(Task.objects.filter(project=p).order_by("created_at").values_list("title", "number"))
        assert by_creation == [("c", 1), ("a", 2), ("b", 3)]
        assert CardNumberSequence.objects.get(project=p).last_number == 3
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {Task._meta.db_table} ALTER COLUMN number SET NOT NULL")
    after = services.create_task(project=project, status_id=columns["todo"].pk, title="next", reporter=owner)
    assert after.number == 4
