"""Swimlanes (issue 16, item 11): the board grouped by assignee, label or priority."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from boards import services
from boards.models import Label, Membership, Task
from tests.boards.conftest import HX, add_tasks
from tests.factories import MembershipFactory
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


def board_url(project, query: str = "") -> str:
    return reverse("board", args=[project.pk]) + query


def lane_count(html: str, key) -> int:
    found = re.search(rf'id="lane-{key}-count"><b>(\d+)</b>', html)
    assert found, f"no lane {key}"
    return int(found.group(1))


def cell_count(html: str, key, column) -> int:
    found = re.search(rf'id="lane-{key}-column-{column.pk}-count"[^>]*>(?:<span[^>]*>[^<]*</span>)?(\d+)</p>', html)
    assert found, f"no cell {key}/{column.pk}"
    return int(found.group(1))


def cards_in_cell(html: str, key, column) -> list[int]:
    start = html.index(f'id="lane-{key}-column-{column.pk}-cards"')
    end = html.index("</div>\n", html.index(f'id="lane-{key}-column-{column.pk}-more"') - 40)
    return [int(pk) for pk in re.findall(r'<article class="card" id="card-(\d+)"', html[start:end])]


def lane_keys(html: str) -> list[str]:
    return re.findall(r'<details class="lane" id="lane-([^"]+)"', html)


@pytest.fixture
def ben(application):
    return MembershipFactory(application=application, role=Membership.Role.EDITOR, user__first_name="Ben").user


@pytest.fixture
def labels(project):
    return {name: Label.objects.create(project=project, name=name) for name in ("Bug", "Docs", "UI")}


class TestGroupedBoard:
    def test_assignee_lanes_with_exact_counts(self, owner_client, project, columns, owner, ben):
        add_tasks(project, columns["todo"], 3, assignee=owner)
        add_tasks(project, columns["active"], 2, assignee=owner)
        add_tasks(project, columns["todo"], 4, assignee=ben)
        add_tasks(project, columns["done"], 1)
        html = owner_client.get(board_url(project, "?lanes=assignee")).content.decode()
        assert 'data-lanes="assignee"' in html
        assert set(lane_keys(html)) == {str(owner.pk), str(ben.pk), "none"}
        assert lane_keys(html)[-1] == "none"
        assert lane_count(html, owner.pk) == 5
        assert lane_count(html, ben.pk) == 4
        assert lane_count(html, "none") == 1
        assert cell_count(html, owner.pk, columns["todo"]) == 3
        assert cell_count(html, owner.pk, columns["active"]) == 2
        assert cell_count(html, ben.pk, columns["active"]) == 0
        assert len(cards_in_cell(html, ben.pk, columns["todo"])) == 4
        # The group-by control keeps its choice, and the plain board has no lanes.
        assert '<option value="assignee" selected>' in html
        assert "lanes-board" not in owner_client.get(board_url(project)).content.decode()

    def test_counts_are_exact_with_a_filter_and_beyond_the_first_page(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 30, title="Alpha", assignee=owner, priority=3)
        add_tasks(project, columns["todo"], 5, title="Beta", assignee=owner, priority=3)
        add_tasks(project, columns["todo"], 7, title="Alpha", priority=1)
        html = owner_client.get(board_url(project, "?lanes=priority&q=alpha")).content.decode()
        assert lane_count(html, 3) == 30 and cell_count(html, 3, columns["todo"]) == 30
        assert lane_count(html, 1) == 7
        # Cards shown: a page of the lane's cell, with "Show more" for the rest.
        assert len(cards_in_cell(html, 3, columns["todo"])) == 20
        assert f'id="lane-3-column-{columns["todo"].pk}-more"' in html
        assert html.count('class="button secondary more"') == 1
        # Every priority lane is a place to drop cards; with "high or higher" only those can hold any.
        assert lane_keys(html) == ["4", "3", "2", "1", "none"]
        html = owner_client.get(board_url(project, "?lanes=priority&priority=3")).content.decode()
        assert lane_keys(html) == ["4", "3"]
        assert lane_count(html, 3) == 35

    def test_show_more_pages_a_lane_cell(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 45, assignee=owner)
        add_tasks(project, columns["todo"], 10)
        html = owner_client.get(board_url(project, "?lanes=assignee")).content.decode()
        first = cards_in_cell(html, owner.pk, columns["todo"])
        link = re.search(rf'hx-get="([^"]+)" hx-target="#lane-{owner.pk}-column-{columns["todo"].pk}-more"', html)
        seen = list(first)
        url = unescape(link.group(1))
        while url:
            response = owner_client.get(url + "&lanes=assignee", headers=HX)
            assert response.status_code == 200
            fragment = response.content.decode()
            assert f'hx-swap-oob="beforeend:#lane-{owner.pk}-column-{columns["todo"].pk}-cards"' in fragment
            seen += [int(pk) for pk in re.findall(r'<article class="card" id="card-(\d+)"', fragment)]
            more = re.search(r'hx-get="([^"]+)" hx-target="#lane-', fragment)
            url = unescape(more.group(1)) if more else ""
        expected = list(
            Task.objects.filter(task_status=columns["todo"], assignee=owner)
            .order_by("position", "pk")
            .values_list("pk", flat=True)
        )
        assert seen == expected
        # Without JavaScript the link opens the page of the cell, the grouping kept.
        plain = re.search(r'href="([^"]+lane=[^"]+)"', html)
        page = owner_client.get(unescape(plain.group(1)))
        assert page.status_code == 200
        assert len(re.findall(r'<article class="card"', page.content.decode())) == 20

    def test_label_lanes_put_each_card_under_its_first_label(self, owner_client, project, columns, labels):
        bug, ui = labels["Bug"], labels["UI"]
        add_tasks(project, columns["todo"], 2, label_ids=[ui.pk, bug.pk])  # under Bug
        add_tasks(project, columns["todo"], 3, label_ids=[ui.pk])
        add_tasks(project, columns["todo"], 1)
        html = owner_client.get(board_url(project, "?lanes=label")).content.decode()
        assert lane_keys(html) == [str(bug.pk), str(ui.pk), "none"]  # Docs has no cards: no lane
        assert lane_count(html, bug.pk) == 2 and lane_count(html, ui.pk) == 3 and lane_count(html, "none") == 1
        # The lanes partition the column: their counts add up to it.
        assert sum(lane_count(html, key) for key in lane_keys(html)) == 6
        assert f'class="label label-{bug.colour[1:]}">Bug</span>' in html
        # A label filter: only cards carrying UI; the two that carry Bug too stay under Bug.
        html = owner_client.get(board_url(project, f"?lanes=label&label={ui.pk}")).content.decode()
        assert lane_keys(html) == [str(bug.pk), str(ui.pk)]
        assert "5 match" in html

    @pytest.mark.parametrize(
        "query", ["?lanes=colour", "?lanes=", "?lanes=assignee&lanes=label", "?lanes=%00", "?lanes=ASSIGNEE"]
    )
    def test_a_bad_grouping_is_a_clear_400(self, owner_client, project, query):
        response = owner_client.get(board_url(project, query))
        if query == "?lanes=":
            assert response.status_code == 200  # empty: not grouped
            return
        assert response.status_code == 400
        text = response.content.decode()
        assert any(
            reason in text
            for reason in ("Group the board by assignee, label or priority", "Give this value once", "NUL characters")
        )

    @pytest.mark.parametrize("query", ["lane=x", "lane=-1", "lane=99999999999999999999", "lanes=priority&lane=7"])
    def test_a_bad_lane_page_is_a_404(self, owner_client, project, columns, query):
        url = reverse("column_more", args=[project.pk, columns["todo"].pk]) + f"?after=1.0:1&{query}"
        assert owner_client.get(url).status_code == 404

    def test_viewers_see_lanes_without_drag_or_forms(self, viewer_client, project, columns, owner):
        add_tasks(project, columns["todo"], 2, assignee=owner)
        html = viewer_client.get(board_url(project, "?lanes=assignee")).content.decode()
        assert lane_count(html, owner.pk) == 2
        assert "data-can-edit" not in html and "card-new" not in html and "card-menu" not in html

    def test_other_workspaces_get_404(self, outsider_client, project, columns):
        assert outsider_client.get(board_url(project, "?lanes=label")).status_code == 404
        url = reverse("column_more", args=[project.pk, columns["todo"].pk]) + "?after=1.0:1&lanes=label&lane=none"
        assert outsider_client.get(url).status_code == 404

    def test_a_former_member_keeps_their_lane(self, owner_client, project, columns, application):
        gone = MembershipFactory(application=application, role=Membership.Role.EDITOR, user__first_name="Gus")
        add_tasks(project, columns["todo"], 2, assignee=gone.user)
        gone.delete()
        html = owner_client.get(board_url(project, "?lanes=assignee")).content.decode()
        assert lane_count(html, gone.user.pk) == 2
        assert "no longer a member" in html

    def test_the_htmx_filter_answers_the_grouped_region(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 2, assignee=owner)
        response = owner_client.get(board_url(project, "?lanes=assignee"), headers={**HX, "HX-Target": "board-columns"})
        fragment = response.content.decode()
        assert fragment.lstrip().startswith('<div id="board-columns" class="lanes-board"')
        assert "<html" not in fragment


class TestQueryCount:
    @pytest.mark.parametrize("kind", ["assignee", "label", "priority"])
    @pytest.mark.parametrize("query", ["", "&q=task"])
    def test_same_at_10_and_1000_cards_and_many_lanes(self, owner_client, project, columns, application, kind, query):
        """Pinned at 10 and at 1,000 cards; 1,000 cards spread over 10 members and 10 labels."""
        people = [MembershipFactory(application=application, role=Membership.Role.EDITOR).user for _ in range(10)]
        labels = [Label.objects.create(project=project, name=f"L{i}") for i in range(10)]
        url = board_url(project, f"?lanes={kind}{query}")

        def add(n):
            """n cards per column, spread over the 10 members, the 10 labels and the 5 priorities."""
            for column in columns.values():
                for i in range(10):
                    share = n // 10 + (1 if i < n % 10 else 0)
                    if share:
                        add_tasks(project, column, share, assignee=people[i], label_ids=[labels[i].pk], priority=i % 5)

        add(2)
        with CaptureQueriesContext(connection) as small:
            assert owner_client.get(url).status_code == 200
        add(198)
        assert Task.objects.filter(project=project).count() == 1000
        with CaptureQueriesContext(connection) as large:
            html = owner_client.get(url).content.decode()
        # user, live sequence number, project+counts, columns, column counts, members,
        # labels, lane counts (one GROUP BY), every cell's first page (one UNION ALL); a filter
        # adds its matching counts.
        assert len(small) == len(large) == (10 if query else 9)
        assert len(lane_keys(html)) == (5 if kind == "priority" else 11)

    def test_a_grouped_move_costs_the_same_at_10_and_1000_cards(self, owner_client, project, columns, owner, ben):
        def move_one() -> int:
            mine = Task.objects.filter(project=project, assignee=owner, task_status=columns["todo"])
            task = mine.order_by("position").first()
            url = reverse("card_move", args=[project.pk, task.pk])
            data = {"status_id": columns["active"].pk, "lanes": "assignee", "lane": ben.pk, "version": task.version}
            with CaptureQueriesContext(connection) as captured:
                assert owner_client.post(url, data, headers=HX).status_code == 200
            return len(captured)

        for column in columns.values():
            add_tasks(project, column, 2, assignee=owner)
        small = move_one()
        for column in columns.values():
            add_tasks(project, column, 98, assignee=owner)
            add_tasks(project, column, 100, assignee=ben)
        assert small == move_one()


class TestDragBetweenLanes:
    def move(self, client, project, task, **data):
        data.setdefault("status_id", task.task_status_id)
        return client.post(reverse("card_move", args=[project.pk, task.pk]), data, headers=HX)

    def test_a_drop_in_another_assignee_lane_assigns_and_answers_the_grouped_board(
        self, owner_client, project, columns, owner, ben
    ):
        add_tasks(project, columns["todo"], 2, assignee=owner)
        task = Task.objects.filter(assignee=owner).order_by("position").first()
        response = self.move(
            owner_client,
            project,
            task,
            lanes="assignee",
            lane=str(ben.pk),
            version=task.version,
            status_id=columns["active"].pk,
        )
        assert response.status_code == 200, response.content
        fragment = response.content.decode()
        assert '<div id="board-columns" class="lanes-board" data-lanes="assignee" hx-swap-oob="true">' in fragment
        assert fragment.count('hx-swap-oob="true"') >= 3  # the region, the progress, the status (not every card)
        assert cards_in_cell(fragment, ben.pk, columns["active"]) == [task.pk]
        assert lane_count(fragment, owner.pk) == 1 and lane_count(fragment, ben.pk) == 1
        assert "is now assigned to Ben" in fragment
        task.refresh_from_db()
        assert (task.assignee_id, task.task_status_id, task.version) == (ben.pk, columns["active"].pk, 2)
        assert_counts_exact(project)

    def test_a_drop_into_no_assignee_unassigns(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 1, assignee=owner)
        task = Task.objects.get(project=project)
        response = self.move(owner_client, project, task, lanes="assignee", lane="none", version=task.version)
        assert response.status_code == 200
        task.refresh_from_db()
        assert task.assignee_id is None

    def test_a_lane_of_someone_outside_the_workspace_is_refused(self, owner_client, project, columns, outsider):
        add_tasks(project, columns["todo"], 1)
        task = Task.objects.get(project=project)
        response = self.move(owner_client, project, task, lanes="assignee", lane=str(outsider.pk), version=task.version)
        assert response.status_code == 422
        assert "not a member of this workspace" in response.content.decode()
        task.refresh_from_db()
        assert task.assignee_id is None

    def test_a_stale_version_is_a_409_and_changes_nothing(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 1)
        task = Task.objects.get(project=project)
        services.update_task(project=project, task_id=task.pk, version=task.version, title="Renamed")
        response = self.move(
            owner_client,
            project,
            task,
            lanes="priority",
            lane="4",
            version=task.version,
            status_id=columns["active"].pk,
        )
        assert response.status_code == 409
        assert "Someone else changed this card" in response.content.decode()
        task.refresh_from_db()
        assert (task.priority, task.task_status_id) == (0, columns["todo"].pk)

    def test_a_hard_wip_limit_counts_every_lane(self, owner_client, project, columns, owner, ben):
        active = columns["active"]
        services.update_column(
            project=project, status_id=active.pk, name=active.name, category="active", wip_limit=2, wip_hard=True
        )
        add_tasks(project, active, 1, assignee=owner)
        add_tasks(project, active, 1, assignee=ben)
        add_tasks(project, columns["todo"], 1)
        task = Task.objects.get(task_status=columns["todo"])
        response = self.move(
            owner_client, project, task, lanes="assignee", lane=str(owner.pk), version=task.version, status_id=active.pk
        )
        assert response.status_code == 409
        assert "is full" in response.content.decode()
        task.refresh_from_db()
        assert (task.assignee_id, task.task_status_id) == (None, columns["todo"].pk)
        # Within the full column, from one lane to another: no card comes in, so it is allowed.
        moved = Task.objects.get(task_status=active, assignee=ben)
        response = self.move(owner_client, project, moved, lanes="assignee", lane=str(owner.pk), version=moved.version)
        assert response.status_code == 200

    def test_up_and_down_stay_within_the_lane(self, owner_client, project, columns, owner, ben):
        todo = columns["todo"]
        add_tasks(project, todo, 1, title="Ana 1", assignee=owner)
        add_tasks(project, todo, 1, title="Ben 1", assignee=ben)
        add_tasks(project, todo, 1, title="Ana 2", assignee=owner)
        ana1, ben1, ana2 = Task.objects.filter(task_status=todo).order_by("position")
        response = self.move(owner_client, project, ana2, lanes="assignee", direction="up")
        assert response.status_code == 200
        assert cards_in_cell(response.content.decode(), owner.pk, todo) == [ana2.pk, ana1.pk]
        response = self.move(owner_client, project, ana2, lanes="assignee", direction="up")
        assert response.status_code == 422
        assert "already at the top of its lane" in response.content.decode()
        # Ungrouped, the card below Ana's first is Ben's.
        response = self.move(owner_client, project, ana1, direction="down")
        assert response.status_code == 200
        order = list(Task.objects.filter(task_status=todo).order_by("position").values_list("pk", flat=True))
        assert order == [ana2.pk, ben1.pk, ana1.pk]

    def test_a_menu_move_keeps_the_keyboard_on_that_card_alone(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 3, assignee=owner)
        task = Task.objects.filter(project=project).order_by("position").last()
        response = self.move(owner_client, project, task, lanes="assignee", via="menu", status_id=columns["done"].pk)
        fragment = response.content.decode()
        assert fragment.count("data-focus") == 1
        assert re.search(rf'id="card-{task.pk}-title"><a [^>]*data-focus', fragment)
        assert cards_in_cell(fragment, owner.pk, columns["done"]) == [task.pk]

    def test_a_label_drop_replaces_the_lane_label(self, owner_client, project, columns, labels):
        bug, docs, ui = labels["Bug"], labels["Docs"], labels["UI"]
        add_tasks(project, columns["todo"], 1, label_ids=[bug.pk, ui.pk])
        task = Task.objects.get(project=project)
        response = self.move(owner_client, project, task, lanes="label", lane=str(docs.pk), version=task.version)
        assert response.status_code == 200
        task.refresh_from_db()
        assert sorted(task.label_ids) == sorted([docs.pk, ui.pk])
        assert cards_in_cell(response.content.decode(), docs.pk, columns["todo"]) == [task.pk]

    def test_a_lane_without_grouping_or_with_direction_is_refused(self, owner_client, project, columns):
        add_tasks(project, columns["todo"], 1)
        task = Task.objects.get(project=project)
        assert self.move(owner_client, project, task, lane="none").status_code == 422
        assert self.move(owner_client, project, task, lanes="priority", lane="9").status_code == 422
        response = self.move(owner_client, project, task, lanes="priority", lane="2", direction="up")
        assert response.status_code == 422

    def test_viewers_cannot_move_between_lanes(self, viewer_client, project, columns):
        add_tasks(project, columns["todo"], 1)
        task = Task.objects.get(project=project)
        response = self.move(viewer_client, project, task, lanes="priority", lane="2", version=task.version)
        assert response.status_code == 403
        task.refresh_from_db()
        assert task.priority == 0

    def test_without_javascript_a_lane_move_redirects(self, owner_client, project, columns):
        add_tasks(project, columns["todo"], 1)
        task = Task.objects.get(project=project)
        response = owner_client.post(
            reverse("card_move", args=[project.pk, task.pk]),
            {"status_id": columns["todo"].pk, "lanes": "priority", "lane": "2", "version": task.version},
        )
        assert response.status_code == 303
        task.refresh_from_db()
        assert task.priority == 2
