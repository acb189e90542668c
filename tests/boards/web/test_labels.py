"""The labels page, the card editor's planning fields, the board filter and sort, the due page,
the profile's time zone and the exports' planning columns."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from boards import queries, services
from boards.models import Label, Task, TaskEvent
from tests.boards.conftest import HX, add_tasks
from tests.boards.web.test_export import read_csv
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def bug(project):
    return services.create_label(project=project, name="Bug", colour="#b91c1c")


@pytest.fixture
def ui(project):
    return services.create_label(project=project, name="UI", colour="#1d4ed8")


def card_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article class="card" id="card-(\d+)"', html)]


class TestLabelsPage:
    def test_editor_adds_renames_recolours_and_deletes(self, editor_client, project):
        url = reverse("labels", args=[project.pk])
        assert editor_client.get(url).status_code == 200
        response = editor_client.post(reverse("label_add", args=[project.pk]), {"name": "Bug", "colour": "#b91c1c"})
        assert response.status_code == 303
        label = Label.objects.get(project=project)
        response = editor_client.post(
            reverse("label_update", args=[project.pk, label.pk]), {"name": "Defect", "colour": "#047857"}, headers=HX
        )
        assert response.status_code == 200 and "Defect" in response.content.decode()
        assert (Label.objects.get(pk=label.pk).name, Label.objects.get(pk=label.pk).colour) == ("Defect", "#047857")
        response = editor_client.post(reverse("label_delete", args=[project.pk, label.pk]), headers=HX)
        assert response.status_code == 200 and not Label.objects.exists()

    def test_delete_without_javascript_asks_first(self, owner_client, project, columns, owner, bug):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="x", reporter=owner)
        services.update_task(project=project, task_id=task.pk, version=1, label_ids=[bug.pk])
        url = reverse("label_delete", args=[project.pk, bug.pk])
        page = owner_client.post(url)
        assert page.status_code == 200 and "comes off 1 card" in page.content.decode()
        assert Label.objects.filter(pk=bug.pk).exists()
        assert owner_client.post(url, {"confirmed": "1"}).status_code == 303
        assert Task.objects.get(pk=task.pk).label_ids == []

    def test_duplicate_and_bad_values_are_clear_errors(self, owner_client, project, bug):
        url = reverse("label_add", args=[project.pk])
        response = owner_client.post(url, {"name": "bug", "colour": "#b91c1c"}, headers=HX)
        assert response.status_code == 422 and "already a label called" in response.content.decode()
        response = owner_client.post(url, {"name": "x" * 41, "colour": "red"}, headers=HX)
        assert response.status_code == 422 and "1 to 40 characters" in response.content.decode()

    def test_viewer_reads_but_cannot_change(self, viewer_client, project, bug):
        page = viewer_client.get(reverse("labels", args=[project.pk])).content.decode()
        assert "Bug" in page and "label_update" not in page and "Add a label" not in page
        response = viewer_client.post(
            reverse("label_update", args=[project.pk, bug.pk]), {"name": "Mine", "colour": "#b91c1c"}
        )
        assert response.status_code == 403
        assert (
            viewer_client.post(reverse("label_delete", args=[project.pk, bug.pk]), {"confirmed": "1"}).status_code
            == 403
        )
        assert Label.objects.get(pk=bug.pk).name == "Bug"

    def test_outsider_gets_404(self, outsider_client, project, bug):
        assert outsider_client.get(reverse("labels", args=[project.pk])).status_code == 404
        response = outsider_client.post(reverse("label_delete", args=[project.pk, bug.pk]), {"confirmed": "1"})
        assert response.status_code == 404 and Label.objects.filter(pk=bug.pk).exists()

    def test_another_projects_label_is_not_reachable(self, owner_client, project, application):
        other = make_project(application, name="Other", key="OTH")
        theirs = services.create_label(project=other, name="Theirs", colour="#b91c1c")
        response = owner_client.post(reverse("label_delete", args=[project.pk, theirs.pk]), {"confirmed": "1"})
        assert response.status_code == 422 and Label.objects.filter(pk=theirs.pk).exists()


class TestCardPlanning:
    def edit(self, client, project, task, **data):
        data = {"version": task.version, "title": task.title, "description": "", "planning": "on", **data}
        return client.post(reverse("card_update", args=[project.pk, task.pk]), data, headers=HX)

    @pytest.fixture
    def task(self, project, columns, owner):
        return services.create_task(project=project, status_id=columns["todo"].pk, title="Plan me", reporter=owner)

    def test_labels_priority_and_due_time_in_the_editors_zone(self, owner_client, owner, project, task, bug, ui):
        Profile.objects.update_or_create(user=owner, defaults={"time_zone": "America/New_York"})
        response = self.edit(
            owner_client,
            project,
            task,
            labels=[str(bug.pk), str(ui.pk)],
            priority="4",
            due_date="2026-07-01",
            due_time="09:30",
        )
        assert response.status_code == 200, response.content[:500]
        stored = Task.objects.get(pk=task.pk)
        assert stored.label_ids == sorted([bug.pk, ui.pk]) and stored.priority == 4
        assert stored.due_date == date(2026, 7, 1)
        assert stored.due_at == datetime(2026, 7, 1, 13, 30, tzinfo=UTC)  # 09:30 EDT
        html = response.content.decode()
        assert '<span class="label label-b91c1c">Bug</span>' in html
        assert "Urgent priority" in html
        event = TaskEvent.objects.filter(task_id=task.pk, kind="edited").get()
        assert event.data["labels"]["to"] == ["Bug", "UI"]

    def test_the_editor_shows_the_checkboxes_and_the_zone(self, owner_client, project, task, bug):
        html = owner_client.get(reverse("card", args=[project.pk, task.pk]) + "?edit=1", headers=HX).content.decode()
        assert f'name="labels" value="{bug.pk}"' in html
        assert 'name="due_date"' in html and 'name="due_time"' in html and 'name="priority"' in html
        assert "(optional, UTC)" in html

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"due_date": "2026-02-30"}, "real day"),
            ({"due_time": "10:00"}, "A due time needs a due date"),
            ({"due_date": "2026-03-01", "due_time": "25:00"}, "hours and minutes"),
            ({"priority": "9"}, "Pick a priority"),
            ({"labels": ["x"]}, "not valid ids"),
        ],
    )
    def test_bad_input_is_a_clear_error_and_keeps_the_text(self, owner_client, project, task, data, message):
        response = self.edit(owner_client, project, task, title="Typed title", **data)
        assert response.status_code == 422
        html = response.content.decode()
        assert message in html and "Typed title" in html
        assert Task.objects.get(pk=task.pk).version == 1

    def test_another_projects_label_is_refused(self, owner_client, project, task, application):
        other = make_project(application, name="Other", key="OTH")
        theirs = services.create_label(project=other, name="Theirs", colour="#b91c1c")
        response = self.edit(owner_client, project, task, labels=[str(theirs.pk)])
        assert response.status_code == 422 and "not a label of this project" in response.content.decode()

    def test_a_form_without_planning_leaves_it_be(self, owner_client, project, task, bug):
        services.update_task(project=project, task_id=task.pk, version=1, label_ids=[bug.pk], priority=2)
        task.refresh_from_db()
        response = owner_client.post(
            reverse("card_update", args=[project.pk, task.pk]), {"version": task.version, "title": "Renamed"}
        )
        assert response.status_code == 303
        stored = Task.objects.get(pk=task.pk)
        assert (stored.title, stored.label_ids, stored.priority) == ("Renamed", [bug.pk], 2)


class TestBoardFilter:
    @pytest.fixture
    def board(self, project, columns, owner, bug, ui):
        """Cards in todo: by labels, due state, priority and assignee."""
        today = timezone.localdate()
        todo = columns["todo"]
        add_tasks(project, todo, 3, title="Bugonly", label_ids=[bug.pk], priority=1)
        add_tasks(project, todo, 2, title="Both", label_ids=[bug.pk, ui.pk], priority=3, assignee=owner)
        add_tasks(project, todo, 4, title="Uionly", label_ids=[ui.pk], due_date=today - timedelta(days=1))
        add_tasks(project, todo, 5, title="Plain", due_date=today + timedelta(days=3), priority=4)
        add_tasks(project, columns["done"], 1, title="Donebug", label_ids=[bug.pk])
        return todo

    def get(self, client, project, query):
        response = client.get(reverse("board", args=[project.pk]) + query)
        assert response.status_code == 200, response.content[:300]
        return response.content.decode()

    @pytest.mark.parametrize(
        ("query", "todo_matching", "done_matching"),
        [
            ("?label={bug}", 5, 1),
            ("?label={bug}&label={ui}", 9, 1),
            ("?label={bug}&label={ui}&label_mode=all", 2, 0),
            ("?due=overdue", 4, 0),
            ("?due=week", 5, 0),
            ("?due=none", 5, 1),
            ("?priority=3", 7, 0),
            ("?assignee=me", 2, 0),
            ("?assignee=me&label={ui}&priority=3", 2, 0),
        ],
    )
    def test_matching_of_total(
        self, owner_client, project, columns, board, bug, ui, query, todo_matching, done_matching
    ):
        html = self.get(owner_client, project, query.format(bug=bug.pk, ui=ui.pk))
        todo_count = re.search(rf'id="column-{board.pk}-count".*?</p>', html, re.S).group(0)
        assert f"{todo_matching} match" in todo_count and ">14<" in todo_count
        done_count = re.search(rf'id="column-{columns["done"].pk}-count".*?</p>', html, re.S).group(0)
        assert f"{done_matching} match" in done_count
        assert len(card_ids(html)) == todo_matching + done_matching

    @pytest.mark.parametrize("query", ["?label=1e3", "?due=soon", "?priority=9", "?sort=title", "?label_mode=some"])
    def test_bad_filters_are_400(self, owner_client, project, board, query):
        assert owner_client.get(reverse("board", args=[project.pk]) + query).status_code == 400

    def test_sort_by_priority_and_due_keeps_the_ranks(self, owner_client, project, board):
        before = dict(Task.objects.values_list("pk", "position"))
        html = self.get(owner_client, project, "?sort=priority")
        ids = card_ids(html)
        priorities = dict(Task.objects.values_list("pk", "priority"))
        todo = [pk for pk in ids if Task.objects.get(pk=pk).task_status_id == board.pk]
        assert [priorities[pk] for pk in todo] == sorted((priorities[pk] for pk in todo), reverse=True)
        assert 'data-sorted="priority"' in html and "match" not in html.split('id="board-columns"')[1][:2000]
        html = self.get(owner_client, project, "?sort=due")
        dues = dict(Task.objects.values_list("pk", "due_date"))
        todo = [pk for pk in card_ids(html) if pk in dues and Task.objects.get(pk=pk).task_status_id == board.pk]
        dated = [dues[pk] for pk in todo if dues[pk]]
        assert dated == sorted(dated) and all(dues[pk] is None for pk in todo[len(dated) :])
        assert dict(Task.objects.values_list("pk", "position")) == before

    def test_show_more_keeps_the_whole_filter(self, owner_client, project, columns, bug):
        add_tasks(project, columns["todo"], 60, title="Tagged", label_ids=[bug.pk], priority=2)
        add_tasks(project, columns["todo"], 10, title="Other", priority=2)
        html = self.get(owner_client, project, f"?label={bug.pk}&priority=2&assignee=&due=")
        link = re.search(r'class="button secondary more" href="([^"]+)"', html).group(1).replace("&amp;", "&")
        assert f"label={bug.pk}" in link and "priority=2" in link
        page = owner_client.get(link).content.decode()  # without JavaScript: the next page, as a page
        assert page.count('class="card"') == 10 and "Other" not in page

    def test_sorted_columns_page_by_offset_without_gaps(self, owner_client, project, columns):
        todo = columns["todo"]
        for priority in (0, 1, 2, 3, 4):
            add_tasks(project, todo, 25, title=f"P{priority}", priority=priority)
        html = self.get(owner_client, project, "?sort=priority")
        seen = card_ids(html)
        cursor = re.search(r"cards/\?after=([^\"]+)\"", html).group(1)
        assert cursor == "o50"
        url = reverse("column_more", args=[project.pk, todo.pk])
        while cursor:
            page = owner_client.get(f"{url}?after={cursor}&sort=priority", headers=HX).content.decode()
            seen += card_ids(page)
            match = re.search(r"cards/\?after=([^\"]+)\"", page)
            cursor = match.group(1) if match else None
        expected = list(
            Task.objects.filter(task_status=todo).order_by("-priority", "position", "pk").values_list("pk", flat=True)
        )
        assert seen == expected

    def test_the_query_matches_the_python_order(self, project, columns, board):
        for sort in ("due", "priority"):
            board_filter = queries.BoardFilter(sort=sort)
            cards = queries.first_pages(project, board_filter, [columns["todo"]])
            stored = list(
                Task.objects.filter(task_status=columns["todo"])
                .order_by(*board_filter.order_by())
                .values_list("pk", flat=True)
            )
            assert [task.pk for task in cards] == stored

    def test_a_card_created_while_filtering_by_me_is_mine(self, owner_client, owner, project, columns):
        response = owner_client.post(
            reverse("card_create", args=[project.pk, columns["todo"].pk]),
            {"title": "Mine", "assignee": "me"},
            headers=HX,
        )
        assert response.status_code == 200
        assert Task.objects.get(title="Mine").assignee == owner


class TestDueSoon:
    def test_lists_overdue_first_from_my_projects_only(self, client, owner, project, columns, application):
        today = timezone.localdate()
        todo = columns["todo"]
        add_tasks(project, todo, 1, title="Later", due_date=today + timedelta(days=5))
        add_tasks(project, todo, 1, title="Late", due_date=today - timedelta(days=2))
        add_tasks(project, todo, 1, title="Today", due_date=today)
        add_tasks(project, todo, 1, title="Far", due_date=today + timedelta(days=30))
        add_tasks(project, columns["done"], 1, title="Finished", due_date=today)
        add_tasks(project, todo, 1, title="Undated")
        stranger = make_project(name="Theirs", key="THR")
        add_tasks(stranger, stranger.task_statuses.first(), 1, title="Secret", due_date=today)
        client.force_login(owner)
        html = client.get(reverse("due_soon")).content.decode()
        order = [title for title in ("Late 0", "Today 0", "Later 0") if title in html]
        assert order == ["Late 0", "Today 0", "Later 0"]
        assert html.index("Late 0") < html.index("Today 0") < html.index("Later 0")
        assert html.index("Overdue") < html.index("Late 0")
        for absent in ("Far 0", "Finished 0", "Undated 0", "Secret 0"):
            assert absent not in html

    def test_archived_projects_and_cards_are_left_out(self, client, owner, project, columns, application):
        today = timezone.localdate()
        add_tasks(project, columns["todo"], 1, title="Shelved", due_date=today)
        services.archive_project(project=project, actor=owner)
        client.force_login(owner)
        assert "Shelved" not in client.get(reverse("due_soon")).content.decode()

    def test_paginated_and_bounded(self, client, owner, project, columns):
        add_tasks(project, columns["todo"], queries.DUE_PAGE_SIZE + 5, title="Due", due_date=timezone.localdate())
        client.force_login(owner)
        first = client.get(reverse("due_soon")).content.decode()
        assert first.count('class="archived-row due-row"') == queries.DUE_PAGE_SIZE
        second = client.get(reverse("due_soon") + "?page=2").content.decode()
        assert second.count('class="archived-row due-row"') == 5
        assert client.get(reverse("due_soon") + "?page=x").status_code == 400

    def test_the_query_count_is_fixed(self, client, owner, project, columns, bug, django_assert_num_queries):
        add_tasks(project, columns["todo"], 30, title="Due", due_date=timezone.localdate(), label_ids=[bug.pk])
        client.force_login(owner)
        # user, count, page, labels
        with django_assert_num_queries(4):
            client.get(reverse("due_soon"))

    def test_linked_from_the_top_bar(self, owner_client):
        assert reverse("due_soon") in owner_client.get(reverse("home")).content.decode()


class TestTimeZone:
    def test_profile_saves_a_known_zone_and_refuses_others(self, client, owner):
        client.force_login(owner)
        data = {"display_name": "", "email": "", "avatar_colour": "", "time_zone": "Europe/Paris"}
        assert client.post(reverse("profile"), data).status_code == 302
        assert Profile.objects.get(user=owner).time_zone == "Europe/Paris"
        response = client.post(reverse("profile"), {**data, "time_zone": "Mars/Olympus"})
        assert response.status_code == 422 and "Pick a time zone" in response.content.decode()
        assert Profile.objects.get(user=owner).time_zone == "Europe/Paris"

    def test_due_times_are_shown_in_the_viewers_zone(self, client, owner, project, columns):
        add_tasks(
            project,
            columns["todo"],
            1,
            title="Timed",
            due_date=date(2030, 1, 1),
            due_at=datetime(2030, 1, 1, 12, 0, tzinfo=UTC),
        )
        Profile.objects.update_or_create(user=owner, defaults={"time_zone": "Asia/Tokyo"})
        client.force_login(owner)
        html = client.get(reverse("board", args=[project.pk])).content.decode()
        assert "1 Jan 21:00" in html
        Profile.objects.update_or_create(user=owner, defaults={"time_zone": ""})
        assert "1 Jan 12:00" in client.get(reverse("board", args=[project.pk])).content.decode()


class TestExports:
    def test_cards_carry_priority_due_and_label_names(self, owner_client, project, columns, owner, bug, ui):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="x", reporter=owner)
        services.update_task(
            project=project,
            task_id=task.pk,
            version=1,
            label_ids=[ui.pk, bug.pk],
            priority=3,
            due_date=date(2026, 5, 1),
            actor=owner,
        )
        rows = read_csv(owner_client.get(reverse("export_tasks", args=[project.pk])))
        assert rows[0][-4:] == ["priority", "due_date", "due_at", "labels"]
        assert rows[1][-4:] == ["High", "2026-05-01", "", "Bug; UI"]
        events = read_csv(owner_client.get(reverse("export_events", args=[project.pk])))
        data = json.loads(events[-1][events[0].index("data")])
        assert data["labels"] == {"from": [], "to": ["Bug", "UI"]}
