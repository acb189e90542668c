"""Hostile input against the board's own endpoints: other workspaces' ids, out-of-range values,
markup in titles and descriptions, forged CSRF. Each a clear 4xx (or inert), nothing changed."""

import pytest
from django.test import Client
from django.urls import reverse

from boards import services
from boards.models import Project, Task, TaskStatus
from tests.factories import UserFactory, make_project
from tests.reliability.test_hostile_input import HOSTILE_TEXT, HUGE, RAW_MARKERS
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]

HX = {"HX-Request": "true"}
HOSTILE_MARKDOWN = (
    "# Title\n\n"
    "[click](javascript:alert(1)) [data](data:text/html,<script>alert(2)</script>) "
    '[vb](vbscript:msgbox) <a href="/logout/" hx-post="/logout/" hx-trigger="load">htmx</a>\n\n'
    '<script>alert("x")</script>\n\n<img src=x onerror=alert(1)>\n\n'
    '<div hx-get="/logout/" hx-trigger="load" hx-on:click="alert(3)" style="position:fixed">div</div>\n\n'
    '<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name=x></form>\n\n'
    '<svg onload=alert(5)></svg> <math><mi xlink:href="javascript:alert(6)">m</mi></math>\n\n'
    '<a href="https://example.com" onclick="alert(7)" target="_top">ok link</a>\n\n'
    "```\n<script>in code</script>\n```\n"
)
DESCRIPTION_FORBIDDEN = [
    "<script",
    "javascript:",
    "vbscript:",
    "data:text",
    "onerror",
    "onload",
    "onclick",
    "hx-get",
    "hx-post",
    "hx-on",
    "hx-trigger",
    "<iframe",
    '<form action="https://evil',
    "<svg",
    'style="position',
    "<img",
]


def everything() -> tuple:
    """The state hostile requests must not change: every card and every column."""
    return (
        list(
            Task.objects.order_by("pk").values_list(
                "pk", "title", "description", "task_status_id", "position", "archived_at", "version", "assignee_id"
            )
        ),
        list(TaskStatus.objects.order_by("pk").values_list("pk", "name", "category", "position", "wip_limit")),
        list(Project.objects.order_by("pk").values_list("pk", "name", "key")),
    )


@pytest.fixture
def card(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="ours", reporter=owner)


@pytest.fixture
def foreign(outsider):
    project = make_project(outsider.memberships.get().application, name="Theirs")
    column = project.task_statuses.order_by("position").first()
    task = services.create_task(project=project, status_id=column.pk, title="their card", reporter=outsider)
    return project, column, task


def write_routes(project_id, task_id, status_id) -> list[tuple[str, dict]]:
    return [
        (reverse("project_rename", args=[project_id]), {"name": "Renamed"}),
        (reverse("card_create", args=[project_id, status_id]), {"title": "New"}),
        (reverse("card_update", args=[project_id, task_id]), {"version": 1, "title": "Edited"}),
        (reverse("card_move", args=[project_id, task_id]), {"status_id": status_id}),
        (reverse("card_archive", args=[project_id, task_id]), {}),
        (reverse("card_unarchive", args=[project_id, task_id]), {}),
        (reverse("card_delete", args=[project_id, task_id]), {}),
        (reverse("column_add", args=[project_id]), {"name": "New", "category": "todo"}),
        (reverse("column_update", args=[project_id, status_id]), {"name": "Renamed", "category": "done"}),
        (reverse("column_reorder", args=[project_id]), {"status_id": status_id, "direction": "left"}),
        (reverse("column_delete", args=[project_id, status_id]), {}),
    ]


class TestOtherWorkspacesIds:
    def test_every_write_with_foreign_ids_is_404_and_changes_nothing(self, owner_client, project, card, foreign):
        their_project, their_column, their_task = foreign
        before = everything()
        mixes = [
            (their_project.pk, their_task.pk, their_column.pk),  # all theirs
            (project.pk, their_task.pk, their_column.pk),  # their card and column under our project
            (their_project.pk, card.pk, card.task_status_id),  # ours under their project
        ]
        for ids in mixes:
            for url, data in write_routes(*ids):
                if ids[0] == project.pk and not any(str(i) in url for i in ids[1:]):
                    continue  # a route with only our project in its path is a valid write, not IDOR
                for headers in (HX, {}):
                    response = owner_client.post(url, data, headers=headers)
                    # 422 is "that column is not on this board" for a card created into it.
                    assert response.status_code in (404, 422), (url, response.status_code)
        assert everything() == before
        assert_counts_exact()

    def test_foreign_ids_in_the_body_are_refused(self, owner_client, project, columns, card, foreign, outsider):
        their_project, their_column, their_task = foreign
        before = everything()
        move = reverse("card_move", args=[project.pk, card.pk])
        for data in [{"status_id": their_column.pk}, {"status_id": their_column.pk, "via": "menu"}]:
            response = owner_client.post(move, data, headers=HX)
            assert response.status_code in (404, 422), data
        # A neighbour from elsewhere is ignored: the card goes to the bottom of our column.
        data = {"status_id": columns["done"].pk, "after_id": their_task.pk, "before_id": their_task.pk}
        assert owner_client.post(move, data, headers=HX).status_code == 200
        their_task.refresh_from_db()
        assert their_task.task_status_id == their_column.pk
        edit = reverse("card_update", args=[project.pk, card.pk])
        response = owner_client.post(edit, {"version": 1, "title": "x", "assignee": outsider.pk}, headers=HX)
        assert response.status_code == 422
        reorder = reverse("column_reorder", args=[project.pk])
        ours = list(project.task_statuses.order_by("position").values_list("pk", flat=True))
        response = owner_client.post(reorder, {"status_ids": [*ours[:-1], their_column.pk]}, headers=HX)
        assert response.status_code == 422
        card.refresh_from_db()
        assert card.task_status.project_id == project.pk
        after = everything()
        assert after[1:] == before[1:]
        assert [row for row in after[0] if row[0] != card.pk] == [row for row in before[0] if row[0] != card.pk]
        assert_counts_exact()


class TestOutOfRangeValues:
    @pytest.mark.parametrize("value", [HUGE, f"-{HUGE}", "-1", "0", "nan", "inf", "1e309", "", "x", "1.0"])
    def test_card_writes(self, owner_client, project, columns, card, value):
        before = everything()
        requests = [
            (reverse("card_move", args=[project.pk, card.pk]), {"status_id": value}),
            (reverse("card_update", args=[project.pk, card.pk]), {"version": value, "title": "changed"}),
            *(
                [(reverse("card_update", args=[project.pk, card.pk]), {"version": 1, "title": "t", "assignee": value})]
                if value  # an empty assignee is "nobody", a valid edit
                else []
            ),
            *(
                [(reverse("column_add", args=[project.pk]), {"name": "W", "category": "todo", "wip_limit": value})]
                if value  # an empty limit is "no limit", a valid column
                else []
            ),
            (
                reverse("column_update", args=[project.pk, columns["todo"].pk]),
                {"name": "Todo", "category": value or "x", "wip_limit": value},
            ),
            (reverse("column_reorder", args=[project.pk]), {"status_ids": [value] * 5}),
            (reverse("column_reorder", args=[project.pk]), {"status_id": value, "direction": "left"}),
        ]
        for url, data in requests:
            response = owner_client.post(url, data, headers=HX)
            assert 400 <= response.status_code < 500, (url, data, response.status_code)
        assert everything() == before

    @pytest.mark.parametrize("value", ["nan", "inf", "1e309", "1.5", "x", "-1e999"])
    def test_neighbour_ids_that_are_not_integers(self, owner_client, project, columns, card, value):
        before = everything()
        url = reverse("card_move", args=[project.pk, card.pk])
        for side in ("after_id", "before_id"):
            response = owner_client.post(url, {"status_id": columns["done"].pk, side: value}, headers=HX)
            assert response.status_code == 422
        assert everything() == before

    @pytest.mark.parametrize("value", ["0", str(2**63 - 1)])
    def test_missing_neighbours_put_the_card_at_the_bottom(self, owner_client, project, columns, card, value):
        url = reverse("card_move", args=[project.pk, card.pk])
        response = owner_client.post(url, {"status_id": columns["done"].pk, "after_id": value}, headers=HX)
        assert response.status_code == 200
        assert_counts_exact()

    @pytest.mark.parametrize(
        "query",
        [
            f"?after=0:{HUGE}",
            "?after=nan:1",
            "?after=inf:1",
            "?after=1e309:1",
            f"?after={HUGE}:-1",
            "?after=x",
            "?after=",
            "?after=:",
            "?after=1:2:3",
            f"?after=0:1&assignee={HUGE}",
        ],
    )
    def test_column_pages_with_hostile_cursors(self, owner_client, project, columns, card, query):
        url = reverse("column_more", args=[project.pk, columns["todo"].pk]) + query
        response = owner_client.get(url, headers=HX)
        assert 400 <= response.status_code < 500, response.status_code

    def test_column_page_with_a_long_filter(self, owner_client, project, columns, card):
        url = reverse("column_more", args=[project.pk, columns["todo"].pk]) + "?after=0:1&q=" + "x" * 5000
        assert owner_client.get(url, headers=HX).status_code == 200

    @pytest.mark.parametrize("query", ["?q=%3Cscript%3E", "?q=" + "x" * 10_000, "?assignee=none", "?assignee="])
    def test_board_filters(self, owner_client, project, card, query):
        assert owner_client.get(project.get_absolute_url() + query).status_code == 200

    @pytest.mark.parametrize("query", [f"?assignee={HUGE}", "?assignee=-1", "?assignee=x"])
    def test_malformed_board_filters_are_400(self, owner_client, project, card, query):
        assert owner_client.get(project.get_absolute_url() + query).status_code == 400

    @pytest.mark.parametrize("query", ["?q=a%00b", "?assignee=%00", "?%00=1"])
    def test_nul_characters_are_400(self, owner_client, project, card, query):
        assert owner_client.get(project.get_absolute_url() + query).status_code == 400

    @pytest.mark.parametrize("title", ["", " ", "x" * 201, "x" * 10_000, "nul\x00byte"])
    def test_bad_titles_refused(self, owner_client, project, columns, card, title):
        before = everything()
        refused = 400 if "\x00" in title else 422  # NUL: refused before any view
        requests = [
            (reverse("card_create", args=[project.pk, columns["todo"].pk]), {"title": title}),
            (reverse("card_update", args=[project.pk, card.pk]), {"version": card.version, "title": title}),
            (reverse("project_rename", args=[project.pk]), {"name": title}),
            (reverse("column_add", args=[project.pk]), {"name": title, "category": "todo"}),
        ]
        for url, data in requests:
            assert owner_client.post(url, data, headers=HX).status_code == refused, url
        assert everything() == before

    def test_huge_description_refused(self, owner_client, project, card):
        edit = reverse("card_update", args=[project.pk, card.pk])
        response = owner_client.post(
            edit, {"version": card.version, "title": "t", "description": "x" * 20_001}, headers=HX
        )
        assert response.status_code == 422
        card.refresh_from_db()
        assert card.description == ""


def assert_inert(html: str, *, shown: bool = True) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{marker!r} reached the page unescaped"
    if shown:
        assert "&lt;script&gt;" in html


class TestMarkup:
    def test_hostile_title_is_inert_everywhere(self, owner_client, owner, project, columns):
        create = reverse("card_create", args=[project.pk, columns["todo"].pk])
        response = owner_client.post(create, {"title": HOSTILE_TEXT[:200]}, headers=HX)
        assert response.status_code == 200
        assert_inert(response.content.decode())
        task = Task.objects.get(project=project)
        pages = [
            (project.get_absolute_url(), {}),
            (task.get_absolute_url(), {}),
            (task.get_absolute_url(), HX),  # the card dialog
            (reverse("column_more", args=[project.pk, columns["todo"].pk]) + "?after=-1e9:0", HX),
        ]
        for url, headers in pages:
            response = owner_client.get(url, headers=headers)
            assert response.status_code == 200, url
            assert_inert(response.content.decode())
        # Moved, archived, in the archive, in the admin.
        move = owner_client.post(
            reverse("card_move", args=[project.pk, task.pk]), {"status_id": columns["done"].pk}, headers=HX
        )
        assert_inert(move.content.decode())
        archive = owner_client.post(reverse("card_archive", args=[project.pk, task.pk]), {}, headers=HX)
        assert_inert(archive.content.decode(), shown=False)
        assert_inert(owner_client.get(reverse("archived", args=[project.pk])).content.decode())
        admin = Client()
        admin.force_login(UserFactory(is_staff=True, is_superuser=True))
        for url in ["/admin/boards/task/", f"/admin/boards/task/{task.pk}/change/"]:
            assert_inert(admin.get(url).content.decode())

    def test_hostile_description_is_sanitized(self, owner_client, project, card):
        edit = reverse("card_update", args=[project.pk, card.pk])
        response = owner_client.post(
            edit, {"version": card.version, "title": "t", "description": HOSTILE_MARKDOWN}, headers=HX
        )
        assert response.status_code == 200
        card.refresh_from_db()
        assert card.description == HOSTILE_MARKDOWN.strip()  # stored as written, made safe when shown
        for url, headers in [(card.get_absolute_url(), {}), (card.get_absolute_url(), HX)]:
            html = owner_client.get(url, headers=headers).content.decode()
            rendered = html.split('class="markdown description">', 1)[1].split("</div>", 1)[0]
            for forbidden in DESCRIPTION_FORBIDDEN:
                assert forbidden not in rendered, f"{forbidden!r} survived in the rendered description"
            assert '<a href="https://example.com"' in rendered  # the harmless link is kept
            assert "&lt;script&gt;in code&lt;/script&gt;" in rendered  # code is shown, not run
        # The raw text in the edit form is escaped too.
        assert "<script>alert" not in owner_client.get(card.get_absolute_url()).content.decode()


class TestCsrf:
    @pytest.mark.parametrize("token", [None, "forged", "A" * 64])
    def test_every_write_refuses_a_missing_or_forged_token(self, owner, project, columns, card, token):
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        client.get(project.get_absolute_url())  # a real csrftoken cookie
        before = everything()
        for url, data in write_routes(project.pk, card.pk, columns["done"].pk):
            headers = dict(HX)
            if token is not None:
                headers["X-CSRFToken"] = token
                data = {**data, "csrfmiddlewaretoken": token}
            assert client.post(url, data, headers=headers).status_code == 403, url
        assert everything() == before

    def test_a_real_token_from_another_session_is_refused(self, owner, editor, project, columns, card):
        other = Client(enforce_csrf_checks=True)
        other.force_login(editor)
        other.get(project.get_absolute_url())
        stolen = other.cookies["csrftoken"].value
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        client.get(project.get_absolute_url())
        url = reverse("card_create", args=[project.pk, columns["todo"].pk])
        assert client.post(url, {"title": "x"}, headers={**HX, "X-CSRFToken": stolen}).status_code == 403
        own = client.cookies["csrftoken"].value
        assert client.post(url, {"title": "x"}, headers={**HX, "X-CSRFToken": own}).status_code == 200


class TestHistoryPages:
    def test_other_workspaces_insights_and_exports_are_404(self, owner_client, project, foreign):
        their_project, _, _ = foreign
        for name in ("project_insights", "export_tasks", "export_events"):
            assert owner_client.get(reverse(name, args=[their_project.pk])).status_code == 404, name
            assert owner_client.get(reverse(name, args=[project.pk])).status_code == 200, name

    @pytest.mark.parametrize("days", [HUGE, f"-{HUGE}", "nan", "inf", "1e309", "0", "x", "<script>alert(1)</script>"])
    def test_insights_range_out_of_bounds_is_400_and_inert(self, owner_client, project, card, days):
        response = owner_client.get(reverse("project_insights", args=[project.pk]), {"days": days})
        assert response.status_code == 400
        assert "<script>alert" not in response.content.decode()

    def test_exported_formulas_are_neutralised(self, owner_client, project, columns, owner):
        services.create_task(
            project=project,
            status_id=columns["todo"].pk,
            title='=HYPERLINK("https://evil.example","x")',
            reporter=owner,
        )
        response = owner_client.get(reverse("export_tasks", args=[project.pk]))
        body = b"".join(response.streaming_content).decode()
        assert ",=HYPERLINK" not in body and "'=HYPERLINK" in body
