"""The board's pages and htmx partials: full pages, fragments and their hx-swap-oob parts."""

import asyncio
import json
import re
from contextlib import contextmanager
from datetime import timedelta
from html import unescape

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aggregates.models import ProjectTaskStatusAgg
from boards import live, services
from boards.live import presence
from boards.models import Category, Label, Membership, Project, Task, TaskStatus
from boards.web.views import HOME_PAGE_SIZE
from tests.boards.conftest import HX, add_tasks
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


@contextmanager
def captured_group_messages(project):
    """The messages sent to the board's live group meanwhile (through the real channel layer)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.group_name(project.pk), channel)
    messages: list[dict] = []
    yield messages
    live.flush()

    async def drain():
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), 0.5))
            except TimeoutError:
                return

    async_to_sync(drain)()
    async_to_sync(layer.group_discard)(live.group_name(project.pk), channel)


def agg(project) -> ProjectTaskStatusAgg:
    return ProjectTaskStatusAgg.objects.get(pk=project.pk)


def oob_ids(html: str) -> list[str]:
    """The ids of the regions a fragment replaces out of band (hx-swap-oob="true")."""
    return re.findall(r'id="([^"]+)"[^>]*hx-swap-oob="true"', html)


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


class TestHome:
    def test_lists_projects_with_counts_progress_and_status(self, owner_client, project, columns):
        add_tasks(project, columns["done"], 3)
        add_tasks(project, columns["todo"], 1)
        response = owner_client.get(reverse("home"))
        html = response.content.decode()
        assert response.status_code == 200
        assert "Website" in html
        assert f'id="project-{project.pk}-progress"' in html
        assert f'id="project-{project.pk}-status"' in html
        assert "<b>75%</b> done" in html
        assert 'value="3"' in html and 'max="4"' in html
        assert "Active" in html  # derived status: some done, some to do
        assert "New project" in html  # owners can create

    def test_query_count_does_not_grow_with_tasks_or_projects(self, owner_client, application, project, columns):
        add_tasks(project, columns["todo"], 10)
        small = count_queries(owner_client, reverse("home"))
        add_tasks(project, columns["todo"], 990)
        for n in range(4):
            other = make_project(application, name=f"Other {n}")
            add_tasks(other, other.task_statuses.first(), 5)
        assert count_queries(owner_client, reverse("home")) == small == 3  # user, memberships, projects

    def test_viewer_sees_no_create_or_rename(self, viewer_client, project):
        html = viewer_client.get(reverse("home")).content.decode()
        assert "Website" in html
        assert "New project" not in html and "Rename" not in html


class TestHomePages:
    """500 projects are ten pages of HOME_PAGE_SIZE, not one page of 500 tiles."""

    @pytest.fixture
    def workspaces(self, owner, application):
        """Workspace "A" (the owner's, 70 projects), "B" (a viewer's, 50), "C" (empty): 120 projects, 3 pages."""
        application.name = "A"
        application.save()
        second, empty = ApplicationFactory(name="B"), ApplicationFactory(name="C")
        MembershipFactory(application=second, user=owner, role=Membership.Role.VIEWER)
        MembershipFactory(application=empty, user=owner, role=Membership.Role.OWNER)
        for n in range(70):
            make_project(application, name=f"A{n:03}")
        for n in range(50):
            make_project(second, name=f"B{n:03}")
        return application, second, empty

    @staticmethod
    def tiles(html: str) -> list[str]:
        return re.findall(r'<span class="key">[^<]*</span> ([AB]\d{3})</span>', html)

    def test_pages_of_fifty_in_order_each_project_once(self, owner_client, workspaces):
        seen = []
        for page in (1, 2, 3):
            html = owner_client.get(reverse("home") + f"?page={page}").content.decode()
            seen += self.tiles(html)
            assert f"page {page} of 3" in html
        assert seen == [f"A{n:03}" for n in range(70)] + [f"B{n:03}" for n in range(50)]
        first = owner_client.get(reverse("home")).content.decode()
        assert len(self.tiles(first)) == HOME_PAGE_SIZE
        assert "Projects 1–50 of 120" in first and 'href="?page=2" rel="next"' in first and 'rel="prev"' not in first

    def test_workspace_on_every_page_it_has_projects_and_the_empty_one_where_it_would_start(
        self, owner_client, workspaces
    ):
        a, b, c = workspaces
        pages = [owner_client.get(reverse("home") + f"?page={page}").content.decode() for page in (1, 2, 3)]
        shown = [[pk for pk in (a.pk, b.pk, c.pk) if f'<h2 id="application-{pk}-name">' in html] for html in pages]
        assert shown == [[a.pk], [a.pk, b.pk], [b.pk, c.pk]]
        assert "No projects in this workspace yet." in pages[2]
        # The owner's workspace keeps its New project form; the viewer's has none.
        assert pages[1].count("New project") == 1
        for html in pages:
            assert f'href="?page=1#application-{a.pk}-name"' in html
            assert f'href="?page=2#application-{b.pk}-name"' in html
            assert f'href="?page=3#application-{c.pk}-name"' in html

    @pytest.mark.parametrize(("asked", "shown"), [("0", 3), ("99", 3), ("", 1)])
    def test_no_page_shows_the_first_and_out_of_range_the_last(self, owner_client, workspaces, asked, shown):
        response = owner_client.get(reverse("home") + f"?page={asked}")
        assert response.status_code == 200
        assert f"page {shown} of 3" in response.content.decode()

    @pytest.mark.parametrize("asked", ["abc", "-1", "²"])
    def test_a_page_that_is_not_a_number_is_400(self, owner_client, workspaces, asked):
        # issue 17: numbers are parsed strictly (tests/reliability/test_bad_numbers.py).
        assert owner_client.get(reverse("home") + f"?page={asked}").status_code == 400

    def test_no_pager_for_a_single_page(self, owner_client, project):
        html = owner_client.get(reverse("home")).content.decode()
        assert 'class="pager"' not in html and 'class="workspace-nav"' not in html
        assert "Website" in html

    @pytest.mark.parametrize("page", ["1", "3"])
    def test_query_count_fixed_whatever_the_number_of_projects(
        self, owner_client, workspaces, page, django_assert_num_queries
    ):
        # user, memberships with their project counts, the page's projects
        with django_assert_num_queries(3):
            owner_client.get(reverse("home") + f"?page={page}")
        a, b, c = workspaces
        for n in range(60):
            make_project(c, name=f"C{n:03}")
        with django_assert_num_queries(3):
            html = owner_client.get(reverse("home") + f"?page={page}").content.decode()
        assert "of 180" in html


class TestProjects:
    def test_owner_creates_project_with_default_columns(self, owner_client, application):
        response = owner_client.post(
            reverse("project_create", args=[application.pk]), {"name": "Ops", "key": "ops"}, headers=HX
        )
        project = Project.objects.get(application=application, key="OPS")
        assert response.status_code == 200
        assert response["HX-Redirect"] == project.get_absolute_url()
        assert list(project.task_statuses.values_list("name", flat=True)) == [
            "Todo",
            "In Progress",
            "In Review",
            "Issue",
            "Done",
        ]
        assert_counts_exact(project)

    def test_bad_key_is_refused_inline(self, owner_client, application, project):
        response = owner_client.post(
            reverse("project_create", args=[application.pk]), {"name": "Again", "key": "WEB"}, headers=HX
        )
        assert response.status_code == 422
        assert response["HX-Retarget"] == f"#application-{application.pk}-message"
        assert "WEB is taken" in response.content.decode()
        assert Project.objects.filter(application=application).count() == 1

    def test_editor_cannot_create_and_outsider_gets_404(self, editor_client, application, outsider, client):
        url = reverse("project_create", args=[application.pk])
        assert editor_client.post(url, {"name": "X", "key": "X"}, headers=HX).status_code == 403
        client.force_login(outsider)
        assert client.post(url, {"name": "X", "key": "X"}).status_code == 404
        assert not Project.objects.filter(key="X").exists()

    def test_owner_renames_with_oob_name(self, owner_client, project):
        response = owner_client.post(reverse("project_rename", args=[project.pk]), {"name": "  Web  site "}, headers=HX)
        assert response.status_code == 200
        assert f"project-{project.pk}-name" in oob_ids(response.content.decode())
        project.refresh_from_db()
        assert project.name == "Web site"

    def test_editor_cannot_rename(self, editor_client, project):
        response = editor_client.post(reverse("project_rename", args=[project.pk]), {"name": "Nope"}, headers=HX)
        assert response.status_code == 403
        project.refresh_from_db()
        assert project.name == "Website"


class TestBoard:
    def test_full_page_columns_counts_cards(self, owner_client, project, columns, owner):
        columns["active"].wip_limit = 1
        columns["active"].save()
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Fix <login>", reporter=owner)
        add_tasks(project, columns["active"], 2)
        response = owner_client.get(reverse("board", args=[project.pk]))
        html = response.content.decode()
        assert response.status_code == 200
        assert html.index(">In Progress</h2>") < html.index(">In Review</h2>") < html.index(">Issue</h2>")
        assert f'id="card-{task.pk}"' in html
        assert "Fix &lt;login&gt;" in html
        assert f'id="column-{columns["active"].pk}-count"' in html
        assert "over limit" in html  # 2 cards, limit 1, soft
        assert 'hx-headers=\'{"x-csrftoken"' in html
        assert "<script>" not in html and " onclick=" not in html

    def test_first_50_per_column_then_show_more_by_keyset(self, owner_client, project, columns):
        add_tasks(project, columns["todo"], 120)
        column = columns["todo"]
        html = owner_client.get(reverse("board", args=[project.pk])).content.decode()
        assert html.count('class="card"') == 50
        assert "Show more" in html
        seen = set(re.findall(r'id="card-(\d+)"', html))
        cursor = re.search(r"cards/\?after=([^\"]+)\"", html).group(1)
        pages = 0
        while cursor:
            response = owner_client.get(
                reverse("column_more", args=[project.pk, column.pk]) + f"?after={cursor}", headers=HX
            )
            page = response.content.decode()
            assert f'hx-swap-oob="beforeend:#column-{column.pk}-cards"' in page
            ids = re.findall(r'id="card-(\d+)"', page)
            assert not seen.intersection(ids)
            seen.update(ids)
            match = re.search(r"cards/\?after=([^\"]+)\"", page)
            cursor = match.group(1) if match else None
            pages += 1
        assert pages == 2
        assert len(seen) == 120
        expected = list(Task.objects.filter(task_status=column).order_by("position", "pk").values_list("pk", flat=True))
        assert sorted(map(int, seen)) == sorted(expected)

    def test_show_more_keeps_the_filter(self, owner_client, project, columns):
        add_tasks(project, columns["todo"], 60, title="Alpha")
        add_tasks(project, columns["todo"], 60, title="Beta")
        html = owner_client.get(reverse("board", args=[project.pk]) + "?q=beta").content.decode()
        assert "60 match" in html and html.count('class="card"') == 50
        cursor = re.search(r"cards/\?after=([^\"]+)\"", html).group(1)
        url = reverse("column_more", args=[project.pk, columns["todo"].pk])
        page = owner_client.get(f"{url}?after={cursor}&q=beta", headers=HX).content.decode()
        assert page.count('class="card"') == 10
        assert "Alpha" not in page and "Show more" not in page

    @pytest.mark.parametrize(
        "query", ["", "?q=task&assignee=none", "?label=LABEL&label_mode=all&due=week&priority=2&sort=due"]
    )
    def test_query_count_same_at_10_and_1000_tasks(self, owner_client, project, columns, query):
        """Pinned at 10 and at 1,000 cards, each with labels, a due date, a priority and face counters."""
        labels = [Label.objects.create(project=project, name=f"L{i}") for i in range(3)]
        query = query.replace("LABEL", str(labels[0].pk))
        url = reverse("board", args=[project.pk]) + query
        face = {
            "label_ids": [label.pk for label in labels],
            "priority": 3,
            "due_date": timezone.localdate() + timedelta(days=1),
            "comment_count": 2,
            "attachment_count": 1,
        }
        for column in columns.values():
            add_tasks(project, column, 2, **face)
        small = count_queries(owner_client, url)
        for column in columns.values():
            add_tasks(project, column, 198, **face)
        assert Task.objects.filter(project=project).count() == 1000
        large = count_queries(owner_client, url)
        assert small == large == (9 if query else 8)
        html = owner_client.get(url).content.decode()
        assert html.count('class="label label-') >= 3 * 50

    def test_pinned_query_count(self, owner_client, project, columns, django_assert_num_queries):
        add_tasks(project, columns["todo"], 60)
        # user, live sequence number, project+counts, columns, column counts, first pages,
        # members, the project's labels
        with django_assert_num_queries(8):
            owner_client.get(reverse("board", args=[project.pk]))

    def test_filter_shows_matching_and_total_and_partial_for_htmx(self, owner_client, project, columns, owner):
        add_tasks(project, columns["todo"], 3, title="Alpha")
        add_tasks(project, columns["todo"], 2, title="Beta", assignee=owner)
        url = reverse("board", args=[project.pk]) + "?q=alp"
        html = owner_client.get(url).content.decode()
        assert "3 match" in html
        assert html.count('class="card"') == 3
        response = owner_client.get(
            reverse("board", args=[project.pk]) + f"?assignee={owner.pk}", headers={**HX, "HX-Target": "board-columns"}
        )
        fragment = response.content.decode()
        assert {"HX-Request", "HX-Target"} <= {h.strip() for h in response["Vary"].split(",")}
        assert fragment.lstrip().startswith('<div id="board-columns"')
        assert "<html" not in fragment
        assert fragment.count('class="card"') == 2
        assert "2 match" in fragment

    def test_viewer_sees_board_without_controls(self, viewer_client, project, task):
        html = viewer_client.get(reverse("board", args=[project.pk])).content.decode()
        assert f'id="card-{task.pk}"' in html
        assert "card-new" not in html and "card-menu" not in html and "data-can-edit" not in html

    def test_archived_view_lists_archived_cards(self, owner_client, project, task):
        services.archive_task(project=project, task_id=task.pk)
        html = owner_client.get(reverse("archived", args=[project.pk])).content.decode()
        assert f'id="archived-{task.pk}"' in html and "Unarchive" in html


class TestCardCreate:
    def url(self, project, column):
        return reverse("card_create", args=[project.pk, column.pk])

    def test_htmx_inserts_card_and_updates_counts_out_of_band(self, editor_client, project, columns):
        column = columns["todo"]
        response = editor_client.post(self.url(project, column), {"title": "  New   card "}, headers=HX)
        html = response.content.decode()
        task = Task.objects.get(project=project)
        assert response.status_code == 200
        assert task.title == "New card"
        assert f'hx-swap-oob="afterbegin:#column-{column.pk}-cards"' in html
        assert f'id="card-{task.pk}"' in html
        ids = oob_ids(html)
        assert f"column-{column.pk}-count" in ids
        assert f"project-{project.pk}-progress" in ids
        assert f"project-{project.pk}-status" in ids
        assert '<span class="held" title="Cards in the column">1</span>' in html
        assert_counts_exact(project)

    def test_without_htmx_redirects_to_board(self, editor_client, project, columns):
        response = editor_client.post(self.url(project, columns["todo"]), {"title": "Plain"})
        # 303 See Other: the browser GETs the board (tests/boards/web/test_without_javascript.py).
        assert response.status_code == 303 and response["Location"] == project.get_absolute_url()

    @pytest.mark.parametrize("title", ["", "   ", "x" * 500])
    def test_bad_title_refused_inline_and_nothing_changes(self, editor_client, project, columns, title):
        column = columns["todo"]
        response = editor_client.post(self.url(project, column), {"title": title}, headers=HX)
        assert response.status_code == 422
        assert response["HX-Retarget"] == f"#column-{column.pk}-message"
        assert "title" in response.content.decode()
        assert not Task.objects.exists()
        assert agg(project).total_tasks == 0
        assert_counts_exact(project)

    def test_column_of_another_project_or_unknown(self, editor_client, project, application):
        other = make_project(application, name="Other")
        foreign = other.task_statuses.first()
        response = editor_client.post(self.url(project, foreign), {"title": "Sneaky"}, headers=HX)
        assert response.status_code == 422
        assert "not on this board" in response.content.decode()
        response = editor_client.post(reverse("card_create", args=[project.pk, 999999]), {"title": "Ghost"}, headers=HX)
        assert response.status_code == 422
        assert not Task.objects.exists()
        assert_counts_exact(project, other)

    def test_hard_wip_limit_refuses_with_message(self, editor_client, project, columns):
        column = columns["active"]
        column.wip_limit, column.wip_hard = 2, True
        column.save()
        add_tasks(project, column, 2)
        response = editor_client.post(self.url(project, column), {"title": "One too many"}, headers=HX)
        assert response.status_code == 409
        assert "is full" in response.content.decode()
        assert Task.objects.filter(task_status=column).count() == 2
        assert_counts_exact(project)


class TestCardMove:
    def url(self, project, task):
        return reverse("card_move", args=[project.pk, task.pk])

    def test_drag_between_neighbours_in_another_column(self, editor_client, project, columns, task, owner):
        done = columns["done"]
        a = services.create_task(project=project, status_id=done.pk, title="A", reporter=owner, at_top=False)
        b = services.create_task(project=project, status_id=done.pk, title="B", reporter=owner, at_top=False)
        response = editor_client.post(
            self.url(project, task), {"status_id": done.pk, "after_id": a.pk, "before_id": b.pk}, headers=HX
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert f'hx-swap-oob="delete:#card-{task.pk}"' in html
        assert f'hx-swap-oob="afterend:#card-{a.pk}"' in html
        ids = oob_ids(html)
        assert {f"column-{columns['todo'].pk}-count", f"column-{done.pk}-count"} <= set(ids)
        assert f"project-{project.pk}-status" in ids
        order = list(Task.objects.filter(task_status=done).order_by("position", "pk").values_list("title", flat=True))
        assert order == ["A", "First card", "B"]
        row = agg(project)
        assert (row.todo_tasks, row.done_tasks) == (0, 3)
        assert_counts_exact(project)

    def test_menu_moves_to_top_of_column_and_up_down(self, editor_client, project, columns, task, owner):
        active = columns["active"]
        x = services.create_task(project=project, status_id=active.pk, title="X", reporter=owner)
        response = editor_client.post(self.url(project, task), {"status_id": active.pk, "via": "menu"}, headers=HX)
        assert response.status_code == 200
        assert f'hx-swap-oob="afterbegin:#column-{active.pk}-cards"' in response.content.decode()
        assert "data-focus" in response.content.decode()
        titles = lambda: list(  # noqa: E731
            Task.objects.filter(task_status=active).order_by("position", "pk").values_list("title", flat=True)
        )
        assert titles() == ["First card", "X"]
        response = editor_client.post(self.url(project, task), {"direction": "down"}, headers=HX)
        assert response.status_code == 200
        assert titles() == ["X", "First card"]
        assert f'hx-swap-oob="afterend:#card-{x.pk}"' in response.content.decode()
        response = editor_client.post(self.url(project, task), {"direction": "down"}, headers=HX)
        assert response.status_code == 422
        assert "already at the bottom" in response.content.decode()
        editor_client.post(self.url(project, task), {"direction": "up"}, headers=HX)
        assert titles() == ["First card", "X"]
        assert_counts_exact(project)

    def test_moved_card_deleted_meanwhile(self, editor_client, project, columns, task):
        services.delete_task(project=project, task_id=task.pk)
        response = editor_client.post(self.url(project, task), {"status_id": columns["done"].pk}, headers=HX)
        assert response.status_code == 404
        assert response["HX-Retarget"] == "#board-messages"
        assert "no longer exists" in response.content.decode()
        assert_counts_exact(project)

    def test_status_of_another_project_changes_nothing(self, editor_client, project, application, task):
        other = make_project(application, name="Other")
        response = editor_client.post(
            self.url(project, task), {"status_id": other.task_statuses.first().pk}, headers=HX
        )
        assert response.status_code == 422
        task.refresh_from_db()
        assert task.task_status.project_id == project.pk and task.version == 1
        assert_counts_exact(project, other)

    def test_bad_neighbour_ids_refused(self, editor_client, project, columns, task):
        response = editor_client.post(
            self.url(project, task), {"status_id": columns["done"].pk, "after_id": "abc"}, headers=HX
        )
        assert response.status_code == 422
        task.refresh_from_db()
        assert task.task_status_id == columns["todo"].pk

    def test_hard_limit_refuses_move(self, editor_client, project, columns, task):
        done = columns["done"]
        done.wip_limit, done.wip_hard = 1, True
        done.save()
        add_tasks(project, done, 1)
        response = editor_client.post(self.url(project, task), {"status_id": done.pk}, headers=HX)
        assert response.status_code == 409
        assert "is full" in response.content.decode()
        task.refresh_from_db()
        assert task.task_status_id == columns["todo"].pk
        assert_counts_exact(project)

    def test_move_query_count_does_not_grow_with_the_board(self, editor_client, project, columns, task):
        def move_queries(status):
            with CaptureQueriesContext(connection) as ctx:
                response = editor_client.post(self.url(project, task), {"status_id": status.pk}, headers=HX)
            assert response.status_code == 200
            return len(ctx.captured_queries)

        for column in columns.values():
            add_tasks(project, column, 2)
        small = move_queries(columns["done"])
        for column in columns.values():
            add_tasks(project, column, 300)
        assert move_queries(columns["active"]) == small
        assert_counts_exact(project)

    def test_filtered_board_gets_matching_counts(self, editor_client, project, columns, task):
        response = editor_client.post(
            self.url(project, task), {"status_id": columns["done"].pk, "q": "first"}, headers=HX
        )
        assert "1 match" in response.content.decode()


class TestCardDetailAndEdit:
    def test_page_and_dialog_partial(self, owner_client, project, task):
        services.update_task(
            project=project,
            task_id=task.pk,
            version=1,
            description="**bold** [bad](javascript:alert(1)) [ok](https://example.com) <script>x()</script>",
        )
        url = reverse("card", args=[project.pk, task.pk])
        page = owner_client.get(url).content.decode()
        assert "<html" in page
        rendered = re.search(r'<div class="markdown description">(.*?)</div>', page, re.S).group(1)
        assert "<strong>bold</strong>" in rendered
        assert "javascript:" not in rendered and "<script" not in rendered
        assert '<a rel="noopener noreferrer">bad</a>' in rendered
        assert '<a href="https://example.com" rel="noopener noreferrer">ok</a>' in rendered
        # View mode: the rendered text and an Edit link, no editor (and no lock taken).
        assert '<textarea id="edit-description' not in page and f'href="{url}?edit=1"' in page
        assert presence.lock_state(task.pk, 0).holder_id is None
        editor_page = owner_client.get(url, {"edit": "1"}).content.decode()
        assert "&lt;script&gt;x()" in editor_page  # the raw text, escaped, in the edit form
        assert '<div class="markdown description">' not in editor_page  # the editor alone
        fragment = owner_client.get(url, headers=HX).content.decode()
        assert "<html" not in fragment and f'id="card-{task.pk}-detail"' in fragment
        assert 'method="dialog"' in fragment
        # Off the board (the card page's own htmx requests): no dialog close button.
        assert 'method="dialog"' not in owner_client.get(url, {"context": "page"}, headers=HX).content.decode()

    def test_reading_takes_no_lock_and_edit_takes_it(self, owner_client, project, task, owner, editor):
        editor_client = Client()  # a second browser: the client fixture is one
        editor_client.force_login(editor)
        url = reverse("card", args=[project.pk, task.pk])
        assert 'name="description"' not in owner_client.get(url, headers=HX).content.decode()
        assert presence.lock_state(task.pk, editor.pk).holder_id is None
        with captured_group_messages(project) as messages:
            html = owner_client.get(url, {"edit": "1"}, headers=HX).content.decode()
        assert "<textarea" in html and "data-lock-held" in html and "data-focus-title" in html
        assert presence.lock_state(task.pk, editor.pk).holder_id == owner.pk
        assert [m["type"] for m in messages] == ["board.lock"]
        assert f'data-task="{task.pk}" data-user="{owner.pk}"' in messages[0]["html"]
        # Someone else reading sees who edits; asking to edit leaves them in view mode, told why.
        seen = editor_client.get(url, headers=HX).content.decode()
        assert "Being edited by" in seen and 'name="description"' not in seen
        refused = editor_client.get(url, {"edit": "1"}, headers=HX).content.decode()
        assert 'name="description"' not in refused and "Edit when they are done" in refused
        assert presence.lock_state(task.pk, editor.pk).holder_id == owner.pk
        # Saving gives it back, and tells the board.
        with captured_group_messages(project) as messages:
            owner_client.post(
                reverse("card_update", args=[project.pk, task.pk]), {"version": 1, "title": "New"}, headers=HX
            )
        assert presence.lock_state(task.pk, editor.pk).holder_id is None
        assert [m["type"] for m in messages] == ["board.lock"] and 'data-name=""' in messages[0]["html"]

    def test_the_board_names_who_edits_its_cards(self, owner_client, project, task, editor):
        editor.first_name = '<b>"Ed"</b>'
        editor.save()
        board = reverse("board", args=[project.pk])
        assert "data-edit-locks" not in owner_client.get(board).content.decode()
        assert presence.lock_acquire(task.pk, editor.pk, '<b>"Ed"</b>', role="editor").held
        html = owner_client.get(board).content.decode()
        found = re.search(r'data-edit-locks="([^"]*)"', html).group(1)
        assert "<b>" not in found  # escaped in the attribute
        assert json.loads(unescape(found)) == {str(task.pk): [str(editor.pk), '<b>"Ed"</b>']}

    def test_a_viewer_and_an_archived_card_get_no_editor(self, viewer_client, project, task, owner):
        owner_client = Client()
        owner_client.force_login(owner)
        url = reverse("card", args=[project.pk, task.pk])
        assert "<textarea" not in viewer_client.get(url, {"edit": "1"}).content.decode()
        assert presence.lock_state(task.pk, 0).holder_id is None
        services.archive_task(project=project, task_id=task.pk)
        assert "<textarea" not in owner_client.get(url, {"edit": "1"}).content.decode()

    @pytest.mark.parametrize("query", [{"edit": "yes"}, {"edit": ["1", "1"]}, {"context": "board"}])
    def test_bad_view_parameters_are_refused(self, owner_client, project, task, query):
        response = owner_client.get(reverse("card", args=[project.pk, task.pk]), query)
        assert response.status_code == 400

    def test_another_workspaces_card_answers_404_even_to_edit(self, outsider_client, project, task):
        response = outsider_client.get(reverse("card", args=[project.pk, task.pk]), {"edit": "1"})
        assert response.status_code == 404
        assert presence.lock_state(task.pk, 0).holder_id is None

    def test_the_dialog_is_named_after_the_card(self, owner_client, project, task):
        board = owner_client.get(reverse("board", args=[project.pk])).content.decode()
        assert 'aria-labelledby="card-dialog-key card-dialog-title"' in board
        html = owner_client.get(reverse("card", args=[project.pk, task.pk]), headers=HX).content.decode()
        assert f'<span id="card-dialog-key">WEB-{task.number}</span>' in html
        assert '<h2 id="card-dialog-title">First card</h2>' in html

    def test_activity_names_who_did_what(self, editor_client, project, columns, task, editor):
        editor_client.post(
            reverse("card_move", args=[project.pk, task.pk]), {"status_id": columns["done"].pk}, headers=HX
        )
        html = editor_client.get(reverse("card", args=[project.pk, task.pk]), headers=HX).content.decode()
        assert f"{editor.first_name} moved this from Todo to Done" in html

    def test_edit_title_description_assignee(self, owner_client, project, task, editor):
        response = owner_client.post(
            reverse("card_update", args=[project.pk, task.pk]),
            {"version": 1, "title": "Renamed", "description": "Notes", "assignee": editor.pk, "context": "dialog"},
            headers=HX,
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "Saved." in html
        assert f"card-{task.pk}" in oob_ids(html)
        task.refresh_from_db()
        assert (task.title, task.description, task.assignee, task.version) == ("Renamed", "Notes", editor, 2)

    def test_stale_edit_keeps_users_text_and_overwrites_nothing(self, owner_client, project, task):
        services.update_task(project=project, task_id=task.pk, version=1, title="Their title")
        response = owner_client.post(
            reverse("card_update", args=[project.pk, task.pk]),
            {"version": 1, "title": "My title", "description": "My long text"},
            headers=HX,
        )
        html = response.content.decode()
        assert response.status_code == 409
        assert "Someone else changed this card" in html
        assert 'value="My title"' in html and "My long text</textarea>" in html
        assert "Their title" in html
        task.refresh_from_db()
        assert (task.title, task.description, task.version) == ("Their title", "", 2)

    def test_assignee_must_be_a_member(self, owner_client, project, task, outsider):
        response = owner_client.post(
            reverse("card_update", args=[project.pk, task.pk]),
            {"version": 1, "title": "T", "assignee": outsider.pk},
            headers=HX,
        )
        assert response.status_code == 422
        assert "member of this workspace" in response.content.decode()
        task.refresh_from_db()
        assert task.assignee is None and task.version == 1

    def test_card_deleted_while_editing(self, owner_client, project, task):
        services.delete_task(project=project, task_id=task.pk)
        response = owner_client.post(
            reverse("card_update", args=[project.pk, task.pk]), {"version": 1, "title": "Mine"}, headers=HX
        )
        assert response.status_code == 404
        assert response["HX-Retarget"] == f"#card-{task.pk}-detail-message"
        assert "no longer exists" in response.content.decode()

    def test_empty_title_refused(self, owner_client, project, task):
        response = owner_client.post(
            reverse("card_update", args=[project.pk, task.pk]), {"version": 1, "title": ""}, headers=HX
        )
        assert response.status_code == 422
        task.refresh_from_db()
        assert task.title == "First card"


class TestArchiveAndDelete:
    def test_archive_from_board_then_undo(self, editor_client, project, columns, task):
        response = editor_client.post(reverse("card_archive", args=[project.pk, task.pk]), headers=HX)
        html = response.content.decode()
        assert f'hx-swap-oob="delete:#card-{task.pk}"' in html
        assert "board-messages" in oob_ids(html) and "Undo" in html
        assert agg(project).total_tasks == 0
        response = editor_client.post(reverse("card_unarchive", args=[project.pk, task.pk]), headers=HX)
        html = response.content.decode()
        assert f'hx-swap-oob="afterbegin:#column-{columns["todo"].pk}-cards"' in html  # the only card
        assert f"project-{project.pk}-progress" in oob_ids(html)
        assert agg(project).todo_tasks == 1
        assert_counts_exact(project)

    def test_undo_puts_the_card_back_between_its_neighbours(self, editor_client, project, columns, task, owner):
        below = services.create_task(project=project, status_id=columns["todo"].pk, title="Below", reporter=owner)
        services.move_task(project=project, task_id=below.pk, status_id=columns["todo"].pk, after_id=task.pk)
        middle = services.create_task(project=project, status_id=columns["todo"].pk, title="Middle", reporter=owner)
        services.move_task(project=project, task_id=middle.pk, status_id=columns["todo"].pk, after_id=task.pk)
        editor_client.post(reverse("card_archive", args=[project.pk, middle.pk]), headers=HX)
        response = editor_client.post(reverse("card_unarchive", args=[project.pk, middle.pk]), headers=HX)
        assert f'hx-swap-oob="afterend:#card-{task.pk}"' in response.content.decode()
        order = Task.objects.live().filter(task_status=columns["todo"]).order_by("position", "pk")
        assert [card.title for card in order] == ["First card", "Middle", "Below"]

    def test_unarchive_from_archived_view(self, editor_client, project, task):
        services.archive_task(project=project, task_id=task.pk)
        response = editor_client.post(
            reverse("card_unarchive", args=[project.pk, task.pk]), {"context": "archived"}, headers=HX
        )
        assert f'hx-swap-oob="delete:#archived-{task.pk}"' in response.content.decode()
        task.refresh_from_db()
        assert task.archived_at is None

    def test_delete(self, editor_client, project, task):
        response = editor_client.post(reverse("card_delete", args=[project.pk, task.pk]), headers=HX)
        assert response.status_code == 200
        assert f'hx-swap-oob="delete:#card-{task.pk}"' in response.content.decode()
        assert not Task.objects.filter(pk=task.pk).exists()
        assert_counts_exact(project)

    def test_delete_asks_for_confirmation(self, owner_client, project, task):
        html = owner_client.get(reverse("card", args=[project.pk, task.pk])).content.decode()
        assert re.search(r'action="[^"]*/delete/"[^>]*hx-confirm="Delete', html)

    def test_delete_from_card_page_redirects(self, editor_client, project, task):
        response = editor_client.post(
            reverse("card_delete", args=[project.pk, task.pk]), {"context": "page"}, headers=HX
        )
        assert response["HX-Redirect"] == project.get_absolute_url()


class TestColumns:
    def test_owner_page_and_editor_forbidden(self, owner_client, project, editor, client):
        assert owner_client.get(reverse("columns", args=[project.pk])).status_code == 200
        client.force_login(editor)
        assert client.get(reverse("columns", args=[project.pk])).status_code == 403

    def test_editors_cannot_change_columns(self, client, project, columns, editor):
        """Managing columns is the owners' (issue 13): an editor moves cards, not the board's shape."""
        client.force_login(editor)
        todo, done = columns["todo"], columns["done"]
        before = snapshot(project)
        for url, data in (
            (reverse("column_add", args=[project.pk]), {"name": "New", "category": "todo"}),
            (reverse("column_update", args=[project.pk, todo.pk]), {"name": "Renamed", "category": "done"}),
            (reverse("column_reorder", args=[project.pk]), {"status_id": done.pk, "direction": "left"}),
            (reverse("column_delete", args=[project.pk, done.pk]), {}),
        ):
            assert client.post(url, data).status_code == 403, url
        assert snapshot(project) == before

    def test_add_update_reorder_delete(self, owner_client, project, columns):
        response = owner_client.post(
            reverse("column_add", args=[project.pk]),
            {"name": "Blocked", "category": "issue", "wip_limit": "3", "wip_hard": "on"},
            headers=HX,
        )
        assert response.status_code == 200 and 'id="column-settings"' in response.content.decode()
        blocked = TaskStatus.objects.get(project=project, name="Blocked")
        assert (blocked.category, blocked.wip_limit, blocked.wip_hard, blocked.position) == ("issue", 3, True, 5)
        owner_client.post(
            reverse("column_update", args=[project.pk, blocked.pk]),
            {"name": "Waiting", "category": "active", "wip_limit": ""},
            headers=HX,
        )
        blocked.refresh_from_db()
        assert (blocked.name, blocked.category, blocked.wip_limit, blocked.wip_hard) == (
            "Waiting",
            "active",
            None,
            False,
        )
        owner_client.post(
            reverse("column_reorder", args=[project.pk]), {"status_id": blocked.pk, "direction": "left"}, headers=HX
        )
        names = list(TaskStatus.objects.filter(project=project).order_by("position").values_list("name", flat=True))
        assert names == ["Todo", "In Progress", "In Review", "Issue", "Waiting", "Done"]
        response = owner_client.post(reverse("column_delete", args=[project.pk, blocked.pk]), headers=HX)
        assert response.status_code == 200
        assert not TaskStatus.objects.filter(pk=blocked.pk).exists()
        assert_counts_exact(project)

    def test_category_change_updates_counts(self, owner_client, project, columns):
        add_tasks(project, columns["todo"], 2)
        owner_client.post(
            reverse("column_update", args=[project.pk, columns["todo"].pk]),
            {"name": "Todo", "category": Category.DONE},
            headers=HX,
        )
        assert agg(project).done_tasks == 2
        assert_counts_exact(project)

    def test_a_saved_column_says_so_in_the_message_region(self, owner_client, project, columns):
        response = owner_client.post(
            reverse("column_update", args=[project.pk, columns["todo"].pk]),
            {"name": "Backlog", "category": Category.TODO},
            headers=HX,
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="columns-message"' in html and 'hx-swap-oob="true"' in html
        assert "Saved the column “Backlog”." in html

    def test_delete_non_empty_column_refused(self, owner_client, project, columns, task):
        response = owner_client.post(reverse("column_delete", args=[project.pk, columns["todo"].pk]), headers=HX)
        assert response.status_code == 422
        assert response["HX-Retarget"] == "#columns-message"
        assert "still holds 1 card" in response.content.decode()
        assert TaskStatus.objects.filter(pk=columns["todo"].pk).exists()

    def test_bad_column_input(self, owner_client, project, columns):
        response = owner_client.post(
            reverse("column_add", args=[project.pk]), {"name": "Todo", "category": "nope", "wip_limit": "0"}, headers=HX
        )
        assert response.status_code == 422
        assert TaskStatus.objects.filter(project=project).count() == 5


def write_requests(project, columns, task):
    """Every write endpoint with input that would succeed for an owner."""
    todo, done = columns["todo"], columns["done"]
    return [
        (reverse("project_rename", args=[project.pk]), {"name": "Renamed"}),
        (reverse("card_create", args=[project.pk, todo.pk]), {"title": "New"}),
        (reverse("card_update", args=[project.pk, task.pk]), {"version": 1, "title": "Edited"}),
        (reverse("card_move", args=[project.pk, task.pk]), {"status_id": done.pk}),
        (reverse("card_archive", args=[project.pk, task.pk]), {}),
        (reverse("card_unarchive", args=[project.pk, task.pk]), {}),
        (reverse("card_delete", args=[project.pk, task.pk]), {}),
        (reverse("column_add", args=[project.pk]), {"name": "New", "category": "todo"}),
        (reverse("column_update", args=[project.pk, todo.pk]), {"name": "Renamed", "category": "done"}),
        (reverse("column_reorder", args=[project.pk]), {"status_id": done.pk, "direction": "left"}),
        (reverse("column_delete", args=[project.pk, done.pk]), {}),
    ]


def read_urls(project, columns, task):
    return [
        reverse("board", args=[project.pk]),
        reverse("archived", args=[project.pk]),
        reverse("columns", args=[project.pk]),
        reverse("card", args=[project.pk, task.pk]),
        reverse("column_more", args=[project.pk, columns["todo"].pk]) + "?after=0.0:0",
        reverse("column_all", args=[project.pk, columns["todo"].pk]),
    ]


def snapshot(project):
    return (
        list(Task.objects.order_by("pk").values_list("pk", "title", "task_status_id", "archived_at", "version")),
        list(TaskStatus.objects.order_by("pk").values_list("pk", "name", "category", "position")),
        list(Project.objects.order_by("pk").values_list("pk", "name")),
    )


class TestPermissions:
    def test_viewer_gets_403_on_every_write(self, viewer_client, project, columns, task):
        before = snapshot(project)
        for url, data in write_requests(project, columns, task):
            assert viewer_client.post(url, data, headers=HX).status_code == 403, url
            assert viewer_client.post(url, data).status_code == 403, url
        assert snapshot(project) == before
        assert_counts_exact(project)

    def test_outsider_gets_404_everywhere(self, outsider_client, project, columns, task):
        before = snapshot(project)
        for url in read_urls(project, columns, task):
            assert outsider_client.get(url).status_code == 404, url
        for url, data in write_requests(project, columns, task):
            assert outsider_client.post(url, data, headers=HX).status_code == 404, url
        assert snapshot(project) == before

    def test_anonymous_is_sent_to_login(self, client, project, columns, task):
        before = snapshot(project)
        for url in [reverse("home"), *read_urls(project, columns, task)]:
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
        for url, data in write_requests(project, columns, task):
            response = client.post(url, data)
            assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
        assert snapshot(project) == before

    def test_writes_are_post_only(self, owner_client, project, columns, task):
        for url, _ in write_requests(project, columns, task):
            assert owner_client.get(url).status_code == 405, url

    def test_writes_need_csrf(self, project, columns, owner):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        response = client.post(reverse("card_create", args=[project.pk, columns["todo"].pk]), {"title": "x"})
        assert response.status_code == 403
        assert not Task.objects.exists()

    def test_editor_can_write_cards(self, editor_client, project, columns, task):
        url = reverse("card_move", args=[project.pk, task.pk])
        assert editor_client.post(url, {"status_id": columns["done"].pk}, headers=HX).status_code == 200

    def test_member_of_other_workspace_sees_only_theirs(self, client, project, application):
        other_member = MembershipFactory().user
        client.force_login(other_member)
        assert "Website" not in client.get(reverse("home")).content.decode()


class TestFragmentsWithoutRequest:
    """The live push renders the same partials outside any request: they must not need one."""

    def test_each_region_renders_alone(self, project, columns, task):
        from django.template.loader import render_to_string

        project = Project.objects.select_related("status_aggregation", "derived_status").get(pk=project.pk)
        column = columns["todo"]
        column.count, column.matching, column.over, column.full = 1, None, False, False
        column.cards, column.has_more, column.cursor = [task], False, ""
        context = {"project": project, "columns": list(columns.values()), "can_edit": True, "column": column}
        card = render_to_string("boards/board.html#card", {**context, "task": task, "oob": True})
        assert card.lstrip().startswith(f'<article class="card" id="card-{task.pk}"')
        assert 'hx-swap-oob="true"' in card and "csrf" not in card
        count = render_to_string("boards/board.html#column_count", {**context, "oob": True})
        assert f'id="column-{column.pk}-count"' in count and 'hx-swap-oob="true"' in count
        whole = render_to_string("boards/board.html#column", context)
        assert f'id="column-{column.pk}"' in whole and f'id="card-{task.pk}"' in whole
        for name in ("project_progress", "project_status", "project_name"):
            html = render_to_string(f"boards/board.html#{name}", {"project": project, "oob": True})
            assert f'id="project-{project.pk}-' in html and 'hx-swap-oob="true"' in html


class TestMissingCountsRow:
    """A project whose counts row was removed by hand (ARCHITECTURE: the row can go missing)."""

    def test_board_and_home_bootstrap_the_row_and_show_the_real_counts(self, owner_client, project, columns):
        add_tasks(project, columns["done"], 3)
        add_tasks(project, columns["todo"], 1)
        ProjectTaskStatusAgg.objects.filter(pk=project.pk).delete()
        html = owner_client.get(reverse("board", args=[project.pk])).content.decode()
        assert "<b>75%</b> done" in html
        assert agg(project).done_tasks == 3
        assert_counts_exact(project)
        ProjectTaskStatusAgg.objects.filter(pk=project.pk).delete()
        html = owner_client.get(reverse("home")).content.decode()
        assert "<b>75%</b> done" in html
        assert_counts_exact(project)
