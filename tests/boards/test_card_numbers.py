"""Card numbers (KEY-n): per project, in creation order, never reused, without a race."""

import threading

import pytest
from django.db import connection, transaction

from boards import history, services
from boards.models import CardNumberSequence, Task
from tests.factories import make_project
from tests.support.helpers import assert_counts_exact, deadlocks_detected

pytestmark = pytest.mark.django_db


def numbers(project):
    return list(Task.objects.filter(project=project).order_by("number").values_list("number", flat=True))


def test_services_number_cards_in_creation_order(project, columns, owner):
    first = services.create_task(project=project, status_id=columns["todo"].pk, title="a", reporter=owner)
    second = services.create_task(project=project, status_id=columns["done"].pk, title="b", reporter=owner)
    assert second.number == first.number + 1


def test_a_deleted_cards_number_is_never_given_again(project, columns, owner):
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="a", reporter=owner)
    services.delete_task(project=project, task_id=task.pk)
    again = services.create_task(project=project, status_id=columns["todo"].pk, title="b", reporter=owner)
    assert again.number == task.number + 1


def test_plain_orm_saves_and_bulk_creates_are_numbered_too(project, columns, owner):
    before = CardNumberSequence.objects.filter(project=project).values_list("last_number", flat=True).first() or 0
    task = Task.objects.create(project=project, task_status=columns["todo"], title="shell")
    assert task.number == before + 1
    made = [Task(task_status=columns["todo"], title=f"bulk {i}") for i in range(3)]
    services.bulk_create_tasks(project=project, tasks=made)
    assert [t.number for t in made] == [before + 2, before + 3, before + 4]
    assert len(set(numbers(project))) == len(numbers(project))


def test_numbers_are_per_project(project, application, columns, owner):
    other_project = make_project(application, name="Ops", key="OPS")
    other_column = other_project.task_statuses.first()
    a = services.create_task(project=project, status_id=columns["todo"].pk, title="a", reporter=owner)
    b = services.create_task(project=other_project, status_id=other_column.pk, title="b", reporter=owner)
    assert CardNumberSequence.objects.get(project=project).last_number == a.number
    assert CardNumberSequence.objects.get(project=other_project).last_number == b.number


def test_the_raw_statement_and_its_orm_counterpart_agree(project):
    # history.take_card_numbers (one statement) and CardNumberSequence.take_numbers (the ORM's two)
    # hand out the same consecutive ranges from the same row, a missing row included.
    CardNumberSequence.objects.filter(project=project).delete()
    with transaction.atomic():
        assert history.take_card_numbers(project.pk, 3) == 1
        assert CardNumberSequence.take_numbers(project.pk, 2) == 4
        assert history.take_card_numbers(project.pk) == 6
        assert CardNumberSequence.take_numbers(project.pk) == 7
    CardNumberSequence.objects.filter(project=project).delete()
    assert CardNumberSequence.take_numbers(project.pk, 5) == 1
    assert history.take_card_numbers(project.pk) == 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_and_moves_never_share_a_number_nor_deadlock(project, columns, owner, close_db_pool):
    # Creates (services and plain ORM) take a number between the column locks and the counts row,
    # moves take the counts row then the event sequence: no order crosses, so nothing deadlocks.
    moving = [
        services.create_task(project=project, status_id=columns["todo"].pk, title=f"moving {i}", reporter=owner).pk
        for i in range(4)
    ]
    targets = [columns[name].pk for name in ("todo", "active", "review", "done")]
    deadlocks_before = deadlocks_detected()
    errors = []

    def create_some(offset):
        try:
            for i in range(15):
                if i % 2:
                    Task.objects.create(project=project, task_status=columns["todo"], title=f"orm {offset}-{i}")
                else:
                    services.create_task(
                        project=project, status_id=columns["active"].pk, title=f"svc {offset}-{i}", reporter=owner
                    )
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    def move_some(offset):
        try:
            for i in range(20):
                task_id = moving[(offset + i) % len(moving)]
                services.move_task(project=project, task_id=task_id, status_id=targets[(offset * 3 + i) % 4])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create_some, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=move_some, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    taken = numbers(project)
    assert len(taken) == len(set(taken)) == 4 + 45
    assert CardNumberSequence.objects.get(project=project).last_number == max(taken)
    assert_counts_exact(project)
    # The services retry a deadlock, so it would not show as an error: PostgreSQL counts them
    # (the threads' pooled connections close first, so their statistics are flushed).
    connection.close_pool()
    assert deadlocks_detected() == deadlocks_before
