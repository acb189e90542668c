"""services.locks reads in raw SQL (the ORM has no FOR SHARE and no ordered locking CTEs) what the
ORM reads elsewhere; these tests hold each statement equal to its counterpart: the neighbours of a
new place to services.ranks._neighbours, the handed-over state to aggregates.signals.stored_state."""

import random

import pytest
from django.db import transaction

from aggregates.signals import column_category, stored_state
from boards.models import Task
from boards.services import locks, ranks
from tests.boards.conftest import add_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(project, columns):
    add_tasks(project, columns["todo"], 6)
    add_tasks(project, columns["done"], 5)
    # Ties: equal ranks are ordered by id, in SQL and in the ORM alike.
    tied = list(Task.objects.filter(task_status=columns["done"]).order_by("pk")[:3])
    for task in tied:
        Task.objects.filter(pk=task.pk).update(position=5000.0)
    return project


def test_neighbours_equal_the_orm_search(board, columns):
    rng = random.Random(7)
    cards = list(Task.objects.filter(project=board).values_list("pk", flat=True))
    targets = [columns["todo"], columns["done"], columns["review"]]
    for _ in range(60):
        moving, target = rng.choice(cards), rng.choice(targets)
        anchor = rng.choice([None, 0, 10**12, *cards])
        side = rng.choice(["after_id", "before_id"])
        with transaction.atomic():
            locked = locks.lock_card(board, moving, target_id=target.pk, place=True, **{side: anchor})
            expected = ranks._neighbours(target, anchor, above=side == "after_id", moving_id=moving)
        assert locked.neighbours == expected, (moving, target.name, side, anchor)


def test_handed_state_equals_the_handlers_own_read(board, columns):
    for task in Task.objects.filter(project=board)[:4]:
        for target in (columns["todo"], columns["active"], columns["done"]):
            with transaction.atomic():
                locked = locks.lock_card(board, task.pk, target_id=target.pk)
                assert locked.state(locked.target) == stored_state(task.pk, new_column=target.pk)
    for column in columns.values():
        with transaction.atomic():
            assert locks.lock_column(board, column.pk).state() == column_category(column.pk)


def test_the_old_spot_equals_the_orm_search(board, columns):
    rng = random.Random(11)
    cards = list(Task.objects.filter(project=board))
    for _ in range(30):
        task = rng.choice(cards)
        # Anywhere in its column, ties with live cards included.
        Task.objects.filter(pk=task.pk).update(position=rng.choice([5000.0, 0.0, 1e9, -5.0, rng.uniform(0, 8000)]))
        task.refresh_from_db()
        with transaction.atomic():
            locked = locks.lock_card(board, task.pk, restore=True)
            expected = ranks._old_spot(task.task_status, task)
        assert locked.neighbours == expected, (task.pk, task.position)
