"""The workspace pages and the owner's project actions: access (404 for non-members, 403 for
editors and viewers), plain POST forms with the CSRF token, bad input, archived boards, query counts."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Application, Membership, Project, Task, WorkspaceEvent
from tests.boards.conftest import HX, add_tasks
from tests.factories import MembershipFactory, make_project

Kind = WorkspaceEvent.Kind


def token_of(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


@pytest.fixture
def csrf_client(owner):
    """A client that enforces CSRF as a browser without JavaScript meets it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def post_form(client: Client, page: str, action: str, data: dict, **kwargs):
    """Open the page, then submit its form as a browser would: the token from the page, no htmx."""
    page_response = client.get(page)
    assert page_response.status_code == 200
    html = page_response.content.decode()
    assert f'action="{action}"' in html
    return client.post(action, {**data, "csrfmiddlewaretoken": token_of(html)}, **kwargs)


@pytest.fixture
def other_project(outsider):
    """A project of a workspace our users are not members of."""
    return make_project(outsider.memberships.get().application, key="THEIRS")


def workspace_urls(application_id):
    return [
        ("get", reverse("workspace", args=[application_id])),
        ("post", reverse("workspace_rename", args=[application_id])),
        ("get", reverse("workspace_delete", args=[application_id])),
        ("post", reverse("workspace_delete", args=[application_id])),
        ("post", reverse("project_create", args=[application_id])),
    ]


def project_urls(project_id):
    return [
        ("get", reverse("project_delete", args=[project_id])),
        ("post", reverse("project_delete", args=[project_id])),
        ("post", reverse("project_archive", args=[project_id])),
        ("post", reverse("project_unarchive", args=[project_id])),
        ("get", reverse("project_move", args=[project_id])),
        ("post", reverse("project_move", args=[project_id])),
    ]


class TestAccess:
    def test_another_workspaces_ids_answer_404(self, owner_client, application, other_project):
        """Our owner, trying the ids of a workspace they are not in (IDOR): 404 everywhere, nothing changed."""
        their = other_project.application
        urls = workspace_urls(their.pk) + project_urls(other_project.pk)
        for method, url in urls:
            data = {"name": "Hijacked", "confirm": their.name, "application": application.pk, "key": "X"}
            response = getattr(owner_client, method)(url, data if method == "post" else None)
            assert response.status_code == 404, (method, url)
        other_project.refresh_from_db()
        their.refresh_from_db()
        assert their.name != "Hijacked"
        assert (other_project.application_id, other_project.archived_at) == (their.pk, None)
        assert not WorkspaceEvent.objects.filter(application=their).exclude(kind=Kind.PROJECT_CREATED).exists()

    def test_a_project_cannot_be_moved_into_someone_elses_workspace(self, owner_client, project, other_project):
        url = reverse("project_move", args=[project.pk])
        response = owner_client.post(url, {"application": other_project.application_id})
        assert response.status_code == 422
        assert "workspaces you own" in response.content.decode()
        project.refresh_from_db()
        assert project.application_id != other_project.application_id

    def test_anonymous_is_sent_to_log_in(self, client, project, application):
        for method, url in workspace_urls(application.pk) + project_urls(project.pk):
            response = getattr(client, method)(url)
            assert response.status_code == 302 and "/login/" in response["Location"], url

    @pytest.mark.parametrize(
        "url",
        ["/workspaces/abc/", "/workspaces/1e3/delete/", "/projects/-1/move/", "/workspaces/99999999999999999999/"],
    )
    def test_non_numeric_ids_answer_404(self, owner_client, url):
        assert owner_client.get(url).status_code == 404

    @pytest.mark.parametrize("role", ["editor", "viewer"])
    def test_editors_and_viewers_change_nothing(self, client, application, project, role, editor, viewer, owner):
        client.force_login(editor if role == "editor" else viewer)
        target = MembershipFactory(user=editor if role == "editor" else viewer, role="owner").application
        for method, url in workspace_urls(application.pk)[1:4] + project_urls(project.pk):
            data = {"name": "Mine", "confirm": application.name, "application": target.pk, "key": ""}
            response = getattr(client, method)(url, data if method == "post" else None)
            assert response.status_code == 403, (method, url)
            assert "Only the workspace&#x27;s owners" in response.content.decode()
        project.refresh_from_db()
        application.refresh_from_db()
        assert application.name != "Mine"
        assert (project.application_id, project.archived_at) == (application.pk, None)
        assert Project.objects.filter(pk=project.pk).exists()
        assert not WorkspaceEvent.objects.exclude(kind=Kind.PROJECT_CREATED).exists()

    def test_members_see_the_workspace_page_without_owner_controls(self, client, application, project, viewer):
        client.force_login(viewer)
        html = client.get(reverse("workspace", args=[application.pk])).content.decode()
        assert project.name in html
        assert reverse("workspace_delete", args=[application.pk]) not in html
        assert reverse("project_archive", args=[project.pk]) not in html


class TestWorkspacesWithoutJavaScript:
    def test_create_rename_and_delete_a_workspace(self, csrf_client, owner):
        response = post_form(csrf_client, reverse("workspaces"), reverse("workspace_create"), {"name": "Design"})
        application = Application.objects.get(name="Design")
        assert response.status_code == 302 and response["Location"] == reverse("workspace", args=[application.pk])
        assert "Created the workspace" in csrf_client.get(response["Location"]).content.decode()
        assert Membership.objects.get(application=application, user=owner).role == "owner"
        page = reverse("workspace", args=[application.pk])

        response = post_form(
            csrf_client, page, reverse("workspace_rename", args=[application.pk]), {"name": "Design team"}
        )
        assert response.status_code == 302
        application.refresh_from_db()
        assert application.name == "Design team"

        project = make_project(application, key="DES")
        add_tasks(project, project.task_statuses.first(), 3)
        delete = reverse("workspace_delete", args=[application.pk])
        confirm_page = csrf_client.get(delete).content.decode()
        assert "1 project" in confirm_page and "3 cards" in confirm_page
        response = post_form(csrf_client, delete, delete, {"confirm": "design team"})  # case counts
        assert response.status_code == 422
        assert "Type the workspace" in response.content.decode()
        assert Application.objects.filter(pk=application.pk).exists()
        response = post_form(csrf_client, delete, delete, {"confirm": "Design team"})
        assert response.status_code == 302 and response["Location"] == reverse("home")
        assert not Application.objects.filter(pk=application.pk).exists()
        assert not Task.objects.filter(project_id=project.pk).exists()
        assert not ProjectTaskStatusAgg.objects.filter(project_id=project.pk).exists()
        assert "Deleted the workspace" in csrf_client.get(reverse("home")).content.decode()
        assert WorkspaceEvent.objects.get(kind=Kind.WORKSPACE_DELETED).application_name == "Design team"

    def test_a_post_without_the_token_is_refused(self, csrf_client, application):
        response = csrf_client.post(reverse("workspace_rename", args=[application.pk]), {"name": "No token"})
        assert response.status_code == 403
        application.refresh_from_db()
        assert application.name != "No token"

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    def test_bad_names_say_why(self, owner_client, application, name):
        for url in (reverse("workspace_create"), reverse("workspace_rename", args=[application.pk])):
            response = owner_client.post(url, {"name": name})
            assert response.status_code == 422
            assert "name" in response.content.decode()
        assert Application.objects.count() == 1

    def test_a_repeated_field_is_refused(self, owner_client):
        response = owner_client.post(reverse("workspace_create"), {"name": ["A", "B"]})
        assert response.status_code == 422
        assert not Application.objects.filter(name__in=["A", "B"]).exists()


class TestProjectsWithoutJavaScript:
    def test_delete_names_the_cards_then_deletes(self, csrf_client, project, columns, application):
        add_tasks(project, columns["todo"], 7)
        url = reverse("project_delete", args=[project.pk])
        assert "7 cards" in csrf_client.get(url).content.decode()
        response = post_form(csrf_client, url, url, {})
        assert response.status_code == 302 and response["Location"] == reverse("workspace", args=[application.pk])
        assert not Project.objects.filter(pk=project.pk).exists()
        assert not ProjectTaskStatusAgg.objects.filter(project_id=project.pk).exists()
        assert "Deleted the project" in csrf_client.get(response["Location"]).content.decode()

    def test_archive_hides_it_from_home_and_lists_it_apart(self, csrf_client, project, application):
        page = reverse("workspace", args=[application.pk])
        response = post_form(csrf_client, page, reverse("project_archive", args=[project.pk]), {})
        assert response.status_code == 302
        project.refresh_from_db()
        assert project.archived_at is not None
        assert project.get_absolute_url() not in csrf_client.get(reverse("home")).content.decode()
        html = csrf_client.get(page).content.decode()
        assert "Archived projects" in html
        archived_part = html[html.index("Archived projects") :]
        assert project.get_absolute_url() in archived_part
        board = csrf_client.get(project.get_absolute_url()).content.decode()
        assert "This project is archived" in board
        response = post_form(csrf_client, page, reverse("project_unarchive", args=[project.pk]), {})
        assert response.status_code == 302
        project.refresh_from_db()
        assert project.archived_at is None
        assert project.get_absolute_url() in csrf_client.get(reverse("home")).content.decode()

    def test_move_to_another_owned_workspace(self, csrf_client, project, owner, columns):
        add_tasks(project, columns["done"], 2)
        target = MembershipFactory(user=owner, role="owner", application__name="Elsewhere").application
        url = reverse("project_move", args=[project.pk])
        assert "Elsewhere" in csrf_client.get(url).content.decode()
        response = post_form(csrf_client, url, url, {"application": str(target.pk), "key": ""})
        assert response.status_code == 302 and response["Location"] == reverse("workspace", args=[target.pk])
        project.refresh_from_db()
        assert project.application_id == target.pk
        assert ProjectTaskStatusAgg.objects.get(project=project).done_tasks == 2

    def test_rename_from_the_workspace_page_comes_back_to_it(self, csrf_client, project, application):
        page = reverse("workspace", args=[application.pk])
        action = reverse("project_rename", args=[project.pk])
        response = post_form(csrf_client, page, action, {"name": "New name", "next": "workspace"})
        assert response.status_code == 303 and response["Location"] == page  # See Other, with a message
        project.refresh_from_db()
        assert project.name == "New name"
        assert WorkspaceEvent.objects.filter(kind=Kind.PROJECT_RENAMED, data__new_name="New name").exists()

    def test_a_taken_key_asks_for_a_new_one(self, owner_client, project, owner):
        target = MembershipFactory(user=owner, role="owner", application__name="Elsewhere").application
        make_project(target, key=project.key)
        url = reverse("project_move", args=[project.pk])
        response = owner_client.post(url, {"application": str(target.pk)})
        assert response.status_code == 422
        html = response.content.decode()
        assert f"{project.key} is taken in Elsewhere" in html and 'name="key"' in html
        response = owner_client.post(url, {"application": str(target.pk), "key": "NEWKEY"})
        assert response.status_code == 302
        project.refresh_from_db()
        assert (project.application_id, project.key) == (target.pk, "NEWKEY")

    @pytest.mark.parametrize("value", ["", "abc", "1.5", "-3", "١٢", "99999999999999999999999"])
    def test_a_bad_workspace_id_says_so(self, owner_client, project, value):
        response = owner_client.post(reverse("project_move", args=[project.pk]), {"application": value})
        assert response.status_code == 422
        assert "workspace" in response.content.decode()

    def test_htmx_requests_are_sent_on(self, owner_client, project, application):
        response = owner_client.post(reverse("project_archive", args=[project.pk]), headers=HX)
        assert response.status_code == 200
        assert response["HX-Redirect"] == reverse("workspace", args=[application.pk])


class TestArchivedBoard:
    @pytest.fixture
    def archived(self, project, owner, task):
        services.archive_project(project=project, actor=owner)
        project.refresh_from_db()
        return project

    @pytest.mark.parametrize("who", ["owner_client", "editor_client"])
    def test_card_writes_are_refused_with_a_message(self, request, archived, columns, task, who):
        client = request.getfixturevalue(who)
        writes = [
            (reverse("card_create", args=[archived.pk, columns["todo"].pk]), {"title": "New"}),
            (reverse("card_move", args=[archived.pk, task.pk]), {"status_id": columns["done"].pk}),
            (reverse("card_archive", args=[archived.pk, task.pk]), {}),
            (reverse("card_delete", args=[archived.pk, task.pk]), {}),
            (reverse("column_add", args=[archived.pk]), {"name": "X", "category": "todo"}),
            (reverse("project_rename", args=[archived.pk]), {"name": "Renamed"}),
        ]
        for url, data in writes:
            for headers in ({}, HX):
                response = client.post(url, data, headers=headers)
                assert response.status_code == 403, url
                assert "archived" in response.content.decode()
        task.refresh_from_db()
        assert (task.task_status_id, task.archived_at) == (columns["todo"].pk, None)
        assert Task.objects.filter(project=archived).count() == 1

    def test_the_board_reads_but_offers_no_editing(self, owner_client, archived, task):
        html = owner_client.get(reverse("board", args=[archived.pk])).content.decode()
        assert task.title in html
        assert "data-can-edit" not in html
        assert reverse("card_create", args=[archived.pk, task.task_status_id]) not in html


class TestWorkspacePage:
    def test_query_count_is_fixed(self, owner_client, application, owner, django_assert_num_queries):
        url = reverse("workspace", args=[application.pk])
        # user, membership with its workspace, the projects with counts and status
        with django_assert_num_queries(3):
            owner_client.get(url)
        for n in range(12):
            project = make_project(application, name=f"P{n:02}")
            if n % 3 == 0:
                services.archive_project(project=project, actor=owner)
        with django_assert_num_queries(3):
            html = owner_client.get(url).content.decode()
        assert html.count('class="project-tile"') == 8
        assert "Archived projects" in html

    def test_the_switcher_lists_the_users_workspaces(self, owner_client, application, owner, outsider):
        mine = MembershipFactory(user=owner, role="viewer", application__name="Second <b>space</b>").application
        page = owner_client.get(reverse("home")).content.decode()
        assert 'class="switcher"' in page and reverse("workspaces") in page
        fragment = owner_client.get(reverse("workspaces"), headers=HX).content.decode()
        assert "<html" not in fragment
        assert reverse("workspace", args=[application.pk]) in fragment
        assert reverse("workspace", args=[mine.pk]) in fragment
        assert "Second &lt;b&gt;space&lt;/b&gt;" in fragment
        assert reverse("workspace", args=[outsider.memberships.get().application_id]) not in fragment
