"""What one card write costs through HTTP, as a browser sends it (htmx): the queries are pinned,
the same at 15 cards and at 1,000, and at most 10 with the user lookup and the queued job included.
The session comes from the cache (tasktrack.sessions): no query for it."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from boards import live
from boards.models import Task
from tests.boards.conftest import HX, add_tasks
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db

# user, project with membership, BEGIN, the locking read (boards.services.locks: card, columns, counts row,
# new neighbours), the write, counts with derived status, history event, its queued job
# (jobs.receivers: notifications and webhooks follow from it), COMMIT, the board as the write left
# it (queries.board_state): 10; a move that changes no category 9; a create also takes the card's
# number. The session is read from Redis (one query fewer than before issue 18).
COSTS = {"create": 11, "move across columns": 10, "move within a column": 9, "archive": 10, "finish": 10}


def requests(project, columns):
    """Each write as (name, url, data), picking its card from the board as it is now."""
    todo, done = columns["todo"], columns["done"]
    cards = list(Task.objects.live().filter(task_status=todo).order_by("position", "pk")[:3])
    return [
        ("create", reverse("card_create", args=[project.pk, todo.pk]), {"title": "New"}),
        (
            "move across columns",
            reverse("card_move", args=[project.pk, cards[0].pk]),
            {"status_id": done.pk, "after_id": Task.objects.live().filter(task_status=done).first().pk},
        ),
        (
            "move within a column",
            reverse("card_move", args=[project.pk, cards[1].pk]),
            {"status_id": todo.pk, "after_id": cards[2].pk},
        ),
        ("archive", reverse("card_archive", args=[project.pk, cards[2].pk]), {}),
        # Into done from review: the event's lead-time start is read from the card's history, in
        # the same statement that writes the event.
        (
            "finish",
            reverse(
                "card_move", args=[project.pk, Task.objects.live().filter(task_status=columns["review"]).first().pk]
            ),
            {"status_id": done.pk},
        ),
    ]


@pytest.mark.parametrize("size", [15, 1000])
def test_each_write_is_pinned_at_every_size(owner_client, project, columns, size, django_assert_num_queries):
    for column in columns.values():
        add_tasks(project, column, size // len(columns))
    for name, url, data in requests(project, columns):
        with django_assert_num_queries(COSTS[name], info=name):
            response = owner_client.post(url, data, headers=HX)
        assert response.status_code == 200, (name, response.content[:300])
    assert_counts_exact(project)


def test_a_drag_into_a_stale_neighbour_lands_at_the_bottom(owner_client, project, columns):
    add_tasks(project, columns["todo"], 3)
    add_tasks(project, columns["done"], 2)
    moving, gone = Task.objects.filter(task_status=columns["todo"]).order_by("position")[:2]
    gone_id = gone.pk
    gone.delete()
    url = reverse("card_move", args=[project.pk, moving.pk])
    response = owner_client.post(url, {"status_id": columns["done"].pk, "after_id": gone_id}, headers=HX)
    assert response.status_code == 200
    order = list(Task.objects.live().filter(task_status=columns["done"]).order_by("position", "pk"))
    assert order[-1] == moving
    # The response places the card after the card now above it, as a reload shows it.
    assert f'hx-swap-oob="afterend:#card-{order[-2].pk}"' in response.content.decode()
    assert_counts_exact(project)


def test_a_watched_board_adds_three_queries_for_the_live_push(
    owner_client, project, columns, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """Someone has the board open: the push renders the card and the counts (boards.live.fragments.render_change): the
    board as the write left it, the card, the card above it."""
    for category in ("todo", "review", "done"):
        add_tasks(project, columns[category], 3)
    async_to_sync(get_channel_layer().group_add)(live.group_name(project.pk), "test.watcher")
    name, url, data = requests(project, columns)[1]
    # The test's transaction never commits: the commit hooks run as the block ends, counted too.
    with django_assert_num_queries(COSTS[name] + 3), django_capture_on_commit_callbacks(execute=True) as hooks:
        response = owner_client.post(url, data, headers=HX)
    assert hooks, "the move registered its live push"
    assert response.status_code == 200
    assert live.flush()
