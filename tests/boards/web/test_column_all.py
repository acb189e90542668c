"""The whole column ("Show all", boards.web.column_all): order, filters, lanes, bounds, access, queries."""

import re

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from boards.models import Label, Task
from boards.web import column_all, heavy
from tests.boards.conftest import HX, add_tasks

pytestmark = pytest.mark.django_db


def read(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def card_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article class="card" id="card-(\d+)"', html)]


def in_order(column, **filters) -> list[int]:
    return list(
        Task.objects.live()
        .filter(task_status=column, **filters)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )


def board_cursor(client, project, column, query="") -> str:
    html = client.get(reverse("board", args=[project.pk]) + query).content.decode()
    link = re.search(rf'data-stream="[^"]*/columns/{column.pk}/cards/all/\?([^"]*)"', html)
    return link.group(1).replace("&amp;", "&")


class TestShowAll:
    def test_the_board_offers_it_on_a_column_with_more_cards_than_shown(self, owner_client, project, columns):
        add_tasks(project, columns["todo"], 51)
        add_tasks(project, columns["done"], 50)
        html = owner_client.get(reverse("board", args=[project.pk])).content.decode()
        assert html.count('class="button secondary more more-all"') == 1
        assert "Show all 51" in html
        assert f'href="{reverse("column_all", args=[project.pk, columns["todo"].pk])}?"' in html

    def test_streams_the_rest_of_the_column_in_order_then_an_empty_more_region(
        self, owner_client, project, columns, monkeypatch
    ):
        monkeypatch.setattr(column_all, "CHUNK", 40)
        column = columns["todo"]
        add_tasks(project, column, 130)
        add_tasks(project, columns["done"], 5)
        query = board_cursor(owner_client, project, column)
        url = reverse("column_all", args=[project.pk, column.pk])
        html = read(owner_client.get(f"{url}?{query}", headers=HX))
        assert card_ids(html) == in_order(column)[50:]
        assert html.count(column_all.BOUNDARY) == 2  # 80 cards: two chunks
        assert html.rstrip().endswith(f'<div class="column-more" id="column-{column.pk}-more"></div>')
        assert "<html" not in html

    def test_keeps_the_filter_the_board_counts(self, owner_client, project, columns, owner):
        column = columns["todo"]
        label = Label.objects.create(project=project, name="Bug")
        add_tasks(project, column, 70, title="Alpha", label_ids=[label.pk], priority=3)
        add_tasks(project, column, 70, title="Beta", label_ids=[label.pk])
        add_tasks(project, column, 70, title="Alpha", priority=3)
        filter_query = f"q=alpha&label={label.pk}&priority=3"
        board = owner_client.get(reverse("board", args=[project.pk]) + "?" + filter_query).content.decode()
        assert "70 match" in board and "Show all 70" in board
        query = board_cursor(owner_client, project, column, "?" + filter_query)
        assert "q=alpha" in query and f"label={label.pk}" in query
        url = reverse("column_all", args=[project.pk, column.pk])
        html = read(owner_client.get(f"{url}?{query}", headers=HX))
        expected = in_order(column, title__startswith="Alpha", label_ids__contains=[label.pk], priority__gte=3)
        assert len(expected) == 70 and card_ids(html) == expected[50:]

    def test_a_sorted_view_goes_on_by_offset(self, owner_client, project, columns):
        column = columns["todo"]
        add_tasks(project, column, 30, priority=1)
        add_tasks(project, column, 40, priority=4)
        query = board_cursor(owner_client, project, column, "?sort=priority")
        assert "after=o50" in query
        html = read(owner_client.get(reverse("column_all", args=[project.pk, column.pk]) + "?" + query, headers=HX))
        expected = list(
            Task.objects.live()
            .filter(task_status=column)
            .order_by("-priority", "position", "pk")
            .values_list("pk", flat=True)
        )
        assert card_ids(html) == expected[50:]

    def test_a_lane_streams_its_own_cards(self, owner_client, project, columns, owner):
        column = columns["todo"]
        add_tasks(project, column, 30, assignee=owner)
        add_tasks(project, column, 30)
        url = reverse("column_all", args=[project.pk, column.pk])
        html = read(owner_client.get(f"{url}?lanes=assignee&lane={owner.pk}", headers=HX))
        assert card_ids(html) == in_order(column, assignee=owner)
        assert f'id="lane-{owner.pk}-column-{column.pk}-more"' in html

    def test_without_javascript_the_whole_column_is_a_page(self, owner_client, project, columns, monkeypatch):
        monkeypatch.setattr(column_all, "CHUNK", 40)
        column = columns["todo"]
        add_tasks(project, column, 90)
        html = read(owner_client.get(reverse("column_all", args=[project.pk, column.pk])))
        assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
        assert card_ids(html) == in_order(column)
        assert "every card" in html and column_all.BOUNDARY not in html
        # Each card's ⋯ leads to its page, where it moves without JavaScript.
        assert html.count('class="card-menu-button"') == 90
        empty = read(owner_client.get(reverse("column_all", args=[project.pk, columns["done"].pk])))
        assert "No cards." in empty and card_ids(empty) == []

    def test_bounded_per_request_then_show_more_goes_on(self, owner_client, project, columns, monkeypatch):
        monkeypatch.setattr(column_all, "CHUNK", 30)
        monkeypatch.setattr(column_all, "LIMIT", 70)
        column = columns["todo"]
        add_tasks(project, column, 200)
        url = reverse("column_all", args=[project.pk, column.pk])
        html = read(owner_client.get(url, headers=HX))
        assert card_ids(html) == in_order(column)[:70]
        assert "Show more" in html and "Show all" in html
        cursor = re.search(r'data-stream="[^"]*after=([^"]+)"', html).group(1)
        rest = read(owner_client.get(f"{url}?after={cursor}", headers=HX))
        assert card_ids(rest) == in_order(column)[70:140]

    @override_settings(HEAVY_REQUESTS_PER_USER=1)
    def test_holds_a_heavy_request_slot_while_it_streams(self, owner_client, project, columns):
        column = columns["todo"]
        add_tasks(project, column, 10)
        url = reverse("column_all", args=[project.pk, column.pk])
        first = owner_client.get(url, headers=HX)
        refused = owner_client.get(url, headers=HX)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == str(heavy.RETRY_AFTER)
        read(first)
        assert owner_client.get(url, headers=HX).status_code == 200

    def test_outsiders_get_404(self, outsider_client, project, columns):
        column = columns["todo"]
        add_tasks(project, column, 5)
        url = reverse("column_all", args=[project.pk, column.pk])
        assert outsider_client.get(url).status_code == 404
        assert outsider_client.get(url, headers=HX).status_code == 404

    def test_another_projects_column_and_bad_cursors_are_404(self, owner_client, project, columns, application):
        from boards import services

        other = services.create_project(application=application, name="Other", key="OTH")
        other_column = other.task_statuses.first()
        assert owner_client.get(reverse("column_all", args=[project.pk, other_column.pk])).status_code == 404
        url = reverse("column_all", args=[project.pk, columns["todo"].pk])
        for bad in ("after=x", "after=nan:1", "after=1.0:-1", "lane=7", "after=o-1"):
            assert owner_client.get(f"{url}?{bad}", headers=HX).status_code == 404, bad

    @pytest.mark.parametrize("query", ["", "q=task&assignee=none&sort=priority"])
    def test_queries_fixed_per_chunk(self, owner_client, project, columns, monkeypatch, query):
        """One query per chunk, the rest fixed: pinned at two column sizes."""
        monkeypatch.setattr(column_all, "CHUNK", 50)
        column = columns["todo"]
        url = reverse("column_all", args=[project.pk, column.pk]) + "?" + query

        def count() -> tuple[int, int]:
            with CaptureQueriesContext(connection) as captured:
                html = read(owner_client.get(url, headers=HX))
            return len(captured.captured_queries), len(card_ids(html))

        add_tasks(project, column, 120)
        small = count()
        add_tasks(project, column, 380)
        large = count()
        # user, project, column, labels, columns (the session is read through Redis); then one
        # query per chunk of 50
        assert small == (5 + 3, 120)
        assert large == (5 + 10, 500)
