"""Every number a view reads is parsed strictly: ASCII digits only, range checked, one value.

A generated matrix: each numeric parameter of each view gets each malformed value (and, where the
parameter is a single value, two copies of a valid one). Every request is answered 4xx before
anything is written, never a 500 and never a write followed by an error.
"""

import pytest
from django.test import Client
from django.urls import reverse

from boards import services
from tests.reliability.test_hostile_board import everything
from tests.reliability.test_hostile_input import HUGE
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]

HX = {"HX-Request": "true"}

# Each is malformed as a whole number: int() or str.isdigit() accepts several of them.
MALFORMED = [
    "²",  # isdigit() but not int()
    "١٢",  # Arabic-Indic digits: int() reads 12
    "１２",  # fullwidth digits: int() reads 12
    "+1",
    "-1",
    " 1",
    "1 ",
    "\u00a01",
    "1.0",
    "1e3",
    "0x1",
    "1_0",  # int() reads 10
    "nan",
    "inf",
    HUGE,  # beyond a bigint
    "1\n",
]


@pytest.fixture
def board(project, columns, owner):
    """Two cards, so a move has a real neighbour, and the ids the requests need."""
    card = services.create_task(project=project, status_id=columns["todo"].pk, title="ours", reporter=owner)
    other = services.create_task(project=project, status_id=columns["done"].pk, title="other", reporter=owner)
    return {"project": project, "card": card, "other": other, "columns": columns, "owner": owner}


def routes(b: dict) -> list[tuple[str, str, dict, str, str, bool]]:
    """(method, url, valid data, numeric parameter, a valid value for it, whether it may be empty)."""
    p, card, columns = b["project"].pk, b["card"], b["columns"]
    todo, done = columns["todo"].pk, columns["done"].pk
    owner = str(b["owner"].pk)
    move = reverse("card_move", args=[p, card.pk])
    edit = reverse("card_update", args=[p, card.pk])
    more = reverse("column_more", args=[p, todo])
    column_edit = reverse("column_update", args=[p, todo])
    return [
        ("get", reverse("home"), {}, "page", "1", True),
        ("get", reverse("board", args=[p]), {}, "assignee", owner, True),
        ("get", more, {"after": f"0:{card.pk}"}, "assignee", owner, True),
        ("get", reverse("project_insights", args=[p]), {}, "days", "30", True),
        ("post", move, {"status_id": done}, "status_id", str(done), False),
        ("post", move, {"status_id": done}, "after_id", str(b["other"].pk), True),
        ("post", move, {"status_id": done}, "before_id", str(b["other"].pk), True),
        ("post", move, {"status_id": done}, "assignee", owner, True),  # the board's filter
        ("post", reverse("card_create", args=[p, todo]), {"title": "New"}, "assignee", owner, True),
        ("post", edit, {"version": card.version, "title": "Edited"}, "version", str(card.version), False),
        ("post", edit, {"version": card.version, "title": "Edited"}, "assignee", owner, True),
        ("post", reverse("card_archive", args=[p, card.pk]), {}, "assignee", owner, True),
        ("post", reverse("column_add", args=[p]), {"name": "New", "category": "todo"}, "wip_limit", "3", True),
        ("post", column_edit, {"name": "Todo", "category": "todo"}, "wip_limit", "3", True),
        ("post", reverse("column_reorder", args=[p]), {"direction": "right"}, "status_id", str(todo), False),
    ]


def route_ids() -> list[str]:
    names = ["home", "board", "column_more", "insights", "move", "move_after", "move_before", "move_filter"]
    return [*names, "create", "edit_version", "edit_assignee", "archive", "column_add", "column_edit", "reorder"]


def send(client: Client, method: str, url: str, data: dict):
    if method == "get":
        return client.get(url, data, headers=HX)
    return client.post(url, data, headers=HX)


@pytest.mark.parametrize("index", range(15), ids=route_ids())
def test_malformed_numbers_are_refused_before_any_write(owner_client, board, index):
    method, url, valid, name, good, may_be_empty = routes(board)[index]
    before = everything()
    values = [*MALFORMED, *([] if may_be_empty else [""])]
    refused = []
    for value in values:
        response = send(owner_client, method, url, {**valid, name: value})
        if not 400 <= response.status_code < 500:
            refused.append((value, response.status_code))
        # A second, valid copy of the parameter: which one counts is not for the server to guess.
        response = send(owner_client, method, url, {**valid, name: [good, value]})
        if not 400 <= response.status_code < 500:
            refused.append(([good, value], response.status_code))
    assert refused == [], f"{method} {url} {name}: not refused with a 4xx"
    assert everything() == before
    assert_counts_exact()


@pytest.mark.parametrize("index", range(15), ids=route_ids())
def test_the_valid_value_still_works(owner_client, board, index):
    """The matrix refuses the malformed values, not the parameter: its valid value is accepted."""
    method, url, valid, name, good, _ = routes(board)[index]
    response = send(owner_client, method, url, {**valid, name: good})
    assert response.status_code < 400, (url, name, response.status_code, response.content[:300])


def test_reorder_refuses_malformed_ids_in_the_list(owner_client, board):
    before = everything()
    url = reverse("column_reorder", args=[board["project"].pk])
    ids = [str(column.pk) for column in board["columns"].values()]
    for value in MALFORMED:
        response = owner_client.post(url, {"status_ids": [*ids[:-1], value]}, headers=HX)
        assert 400 <= response.status_code < 500, (value, response.status_code)
    assert everything() == before


def test_column_page_cursor_parts_are_strict(owner_client, board):
    url = reverse("column_more", args=[board["project"].pk, board["columns"]["todo"].pk])
    card = board["card"].pk
    for after in [*(f"0:{value}" for value in MALFORMED), "nan:1", "inf:1", "-inf:1", "1e309:1", f"0:{card}:1"]:
        response = owner_client.get(url, {"after": after}, headers=HX)
        assert 400 <= response.status_code < 500, (after, response.status_code)
