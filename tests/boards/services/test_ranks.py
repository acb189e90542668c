"""Where a moved card lands: between its new neighbours, ties in position broken by id.

The sibling queries in services.ranks._place carry a redundant position bound (so PostgreSQL reads the
neighbour from one end of an index range); these prove the bound never changes the answer.
"""

import pytest

from boards import services
from boards.models import Task

pytestmark = pytest.mark.django_db


def order(column) -> list[int]:
    return list(Task.objects.live().filter(task_status=column).order_by("position", "pk").values_list("pk", flat=True))


@pytest.fixture
def cards(project, columns, owner):
    """Four cards at the bottom of To do, in order a, b, c, d."""
    return [
        services.create_task(project=project, status_id=columns["todo"].pk, title=t, reporter=owner, at_top=False).pk
        for t in "abcd"
    ]


class TestRank:
    def test_after_and_before_within_a_column(self, project, columns, cards):
        a, b, c, d = cards
        services.move_task(project=project, task_id=a, status_id=columns["todo"].pk, after_id=c)
        assert order(columns["todo"]) == [b, c, a, d]
        services.move_task(project=project, task_id=d, status_id=columns["todo"].pk, before_id=b)
        assert order(columns["todo"]) == [d, b, c, a]

    def test_equal_positions_are_ordered_by_id(self, project, columns, cards):
        a, b, c, d = cards
        tie = Task.objects.get(pk=b).position
        Task.objects.filter(pk=c).update(position=tie)  # b and c tie: b comes first by id
        services.move_task(project=project, task_id=a, status_id=columns["todo"].pk, after_id=b)
        assert order(columns["todo"]) == [b, a, c, d]
        services.move_task(project=project, task_id=d, status_id=columns["todo"].pk, before_id=c)
        assert order(columns["todo"]) == [b, a, d, c]

    def test_across_columns_and_to_the_bottom(self, project, columns, cards, owner):
        a, b, c, d = cards
        x = services.create_task(project=project, status_id=columns["done"].pk, title="x", reporter=owner).pk
        services.move_task(project=project, task_id=b, status_id=columns["done"].pk, before_id=x)
        services.move_task(project=project, task_id=c, status_id=columns["done"].pk)
        assert order(columns["done"]) == [b, x, c]
        assert order(columns["todo"]) == [a, d]

    def test_new_cards_go_to_the_top_or_bottom(self, project, columns, cards, owner):
        top = services.create_task(project=project, status_id=columns["todo"].pk, title="top", reporter=owner).pk
        bottom = services.create_task(
            project=project, status_id=columns["todo"].pk, title="bottom", reporter=owner, at_top=False
        ).pk
        assert order(columns["todo"]) == [top, *cards, bottom]
