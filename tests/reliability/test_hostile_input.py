"""Hostile input: each refused with a clear 4xx (or made inert), and nothing changed."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from boards import services
from boards.models import Task
from tests.factories import UserFactory, make_project
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.timeout(60), pytest.mark.django_db]

HUGE = "99999999999999999999"
HOSTILE_TEXT = (
    '<script>alert("x")</script><img src=x onerror=alert(1)>'
    '<a href="javascript:alert(2)">link</a><div hx-get="/logout/" hx-trigger="load" hx-on:click="alert(3)">'
    '<span hx-on::load="alert(4)" style="position:fixed">'
)
RAW_MARKERS = ["<script>alert", "<img src=x", 'href="javascript:', "<div hx-get", "<span hx-on"]


def snapshot() -> list[tuple]:
    return list(Task.objects.order_by("pk").values_list("pk", "title", "task_status_id", "position", "archived_at"))


@pytest.fixture
def foreign(outsider):
    """A project of a workspace our users are not in, with one card."""
    project = make_project(outsider.memberships.get().application, name="Theirs")
    column = project.task_statuses.order_by("position").first()
    task = services.create_task(project=project, status_id=column.pk, title="their card", reporter=outsider)
    return project, column, task


@pytest.fixture
def card(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="ours", reporter=owner)


class TestOtherWorkspacesIds:
    def test_foreign_project_and_card_are_404(self, client, owner, project, card, foreign):
        their_project, _, their_task = foreign
        client.force_login(owner)
        for url in [
            their_project.get_absolute_url(),
            their_task.get_absolute_url(),
            f"/projects/{project.pk}/cards/{their_task.pk}/",  # their card under our project
            f"/projects/{their_project.pk}/cards/{card.pk}/",  # our card under their project
        ]:
            assert client.get(url).status_code == 404, url

    def test_card_of_another_of_our_projects_is_404_under_this_one(self, client, owner, application, project, card):
        other = make_project(application, name="Other")
        client.force_login(owner)
        assert client.get(f"/projects/{other.pk}/cards/{card.pk}/").status_code == 404

    def test_services_refuse_foreign_columns_and_cards(self, project, card, foreign, owner):
        _, their_column, their_task = foreign
        before = snapshot()
        with pytest.raises(ValidationError):
            services.create_task(project=project, status_id=their_column.pk, title="x", reporter=owner)
        with pytest.raises(ValidationError):
            services.move_task(project=project, task_id=card.pk, status_id=their_column.pk)
        with pytest.raises(Task.DoesNotExist):
            services.move_task(project=project, task_id=their_task.pk, status_id=card.task_status_id)
        with pytest.raises(Task.DoesNotExist):
            services.archive_task(project=project, task_id=their_task.pk)
        with pytest.raises(Task.DoesNotExist):
            services.bulk_archive_tasks(project=project, task_ids=[card.pk, their_task.pk])
        with pytest.raises((Task.DoesNotExist, ValidationError)):
            services.bulk_move_tasks(project=project, task_ids=[their_task.pk], status_id=card.task_status_id)
        assert snapshot() == before
        assert_counts_exact()


class TestOutOfRangeIds:
    @pytest.mark.parametrize("value", [HUGE, "-1", "0", "1e30", "NaN", "", "１２"])
    def test_pages_answer_404(self, client, owner, project, card, value):
        client.force_login(owner)
        for url in [f"/projects/{value}/", f"/projects/{project.pk}/cards/{value}/", f"/projects/{value}/cards/1/"]:
            assert client.get(url).status_code == 404, url

    @pytest.mark.parametrize("value", [HUGE, "-99999999999999999999", "1e30", "nan", "inf", None, "", [1]])
    def test_services_refuse_out_of_range_ids(self, project, columns, card, owner, value):
        before = snapshot()
        with pytest.raises(ValidationError):
            services.create_task(project=project, status_id=value, title="x", reporter=owner)
        with pytest.raises(ValidationError):
            services.move_task(project=project, task_id=card.pk, status_id=value)
        with pytest.raises((Task.DoesNotExist, ValidationError)):
            services.move_task(project=project, task_id=value, status_id=columns["done"].pk)
        with pytest.raises((Task.DoesNotExist, ValidationError)):
            services.archive_task(project=project, task_id=value)
        with pytest.raises((Task.DoesNotExist, ValidationError)):
            services.bulk_archive_tasks(project=project, task_ids=[value])
        assert snapshot() == before

    @pytest.mark.parametrize("value", [HUGE, "-99999999999999999999", "-1", "0"])
    def test_move_next_to_a_missing_neighbour_goes_to_the_bottom(self, project, columns, card, owner, value):
        other = services.create_task(project=project, status_id=columns["done"].pk, title="n", reporter=owner)
        services.move_task(project=project, task_id=card.pk, status_id=columns["done"].pk, after_id=value)
        services.move_task(project=project, task_id=card.pk, status_id=columns["done"].pk, before_id=value)
        card.refresh_from_db()
        assert card.task_status_id == columns["done"].pk
        assert card.position > other.position
        assert_counts_exact(project)

    @pytest.mark.parametrize("value", ["nan", "inf", "1e30", "1.5", "x", float("inf"), float("nan"), [1]])
    def test_move_next_to_a_non_integer_neighbour_is_refused(self, project, columns, card, value):
        before = snapshot()
        for side in ("after_id", "before_id"):
            with pytest.raises(ValidationError):
                services.move_task(project=project, task_id=card.pk, status_id=columns["done"].pk, **{side: value})
        assert snapshot() == before
        assert_counts_exact(project)


class TestTitles:
    @pytest.mark.parametrize("title", ["", "   ", "\n\t", "x" * 201, "x" * 10_000])
    def test_bad_titles_refused(self, project, columns, owner, card, title):
        before = snapshot()
        with pytest.raises(ValidationError):
            services.create_task(project=project, status_id=columns["todo"].pk, title=title, reporter=owner)
        with pytest.raises(ValidationError):
            services.update_task(project=project, task_id=card.pk, version=card.version, title=title)
        assert snapshot() == before

    def test_huge_description_refused(self, project, columns, owner, card):
        with pytest.raises(ValidationError):
            services.update_task(project=project, task_id=card.pk, version=card.version, description="x" * 20_001)

    @pytest.mark.parametrize("title", ["", "x" * 10_000])
    def test_admin_refuses_bad_titles(self, client, project, columns, title):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        form = {"project": project.pk, "task_status": columns["todo"].pk, "title": title, "position": "0"}
        response = client.post("/admin/boards/task/add/", form)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["title"]
        assert not Task.objects.exists()

    def test_admin_refuses_a_column_of_another_project(self, client, project, foreign):
        _, their_column, _ = foreign
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        form = {"project": project.pk, "task_status": their_column.pk, "title": "x", "position": "0"}
        response = client.post("/admin/boards/task/add/", form)
        assert response.status_code == 200
        assert "another project" in str(response.context["adminform"].form.errors)
        assert not Task.objects.filter(project=project).exists()
        assert_counts_exact()


def assert_inert(html: str, *, shown: bool = True) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{marker!r} reached the page unescaped"
    if shown:  # the text is there, escaped (not merely missing)
        assert "&lt;script&gt;" in html


class TestMarkupInText:
    def test_titles_are_inert_on_every_page(self, client, owner, project, columns):
        task = services.create_task(
            project=project, status_id=columns["todo"].pk, title=HOSTILE_TEXT[:200], reporter=owner
        )
        client.force_login(owner)
        for url, shown in [("/", False), (project.get_absolute_url(), False), (task.get_absolute_url(), True)]:
            response = client.get(url)
            assert response.status_code == 200, url
            assert_inert(response.content.decode(), shown=shown)

    def test_titles_are_inert_in_the_admin(self, client, owner, project, columns):
        task = services.create_task(
            project=project, status_id=columns["todo"].pk, title=HOSTILE_TEXT[:200], reporter=owner
        )
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        for url in ["/admin/boards/task/", f"/admin/boards/task/{task.pk}/change/", "/admin/boards/task/?q=script"]:
            response = client.get(url)
            assert response.status_code == 200, url
            assert_inert(response.content.decode())


class TestCsrf:
    def test_login_without_token_is_403(self, db):
        UserFactory(username="judy")
        client = Client(enforce_csrf_checks=True)
        response = client.post("/login/", {"username": "judy", "password": "secret-pass"})
        assert response.status_code == 403
        assert "_auth_user_id" not in client.session

    def test_logout_without_token_is_403(self, owner):
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        assert client.post("/logout/").status_code == 403
        assert client.get("/").status_code == 200  # still logged in

    @pytest.mark.parametrize("token", [None, "forged", "x" * 64])
    def test_admin_write_with_missing_or_forged_token_is_403(self, project, columns, token):
        client = Client(enforce_csrf_checks=True)
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        client.get("/admin/boards/task/add/")  # sets the real cookie
        form = {"project": project.pk, "task_status": columns["todo"].pk, "title": "forged", "position": "0"}
        if token is not None:
            form["csrfmiddlewaretoken"] = token
        assert client.post("/admin/boards/task/add/", form).status_code == 403
        assert client.post("/admin/boards/task/add/", form, headers={"X-CSRFToken": token or ""}).status_code == 403
        assert not Task.objects.exists()

    def test_foreign_origin_is_403_even_with_a_valid_token(self, project, columns):
        client = Client(enforce_csrf_checks=True)
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        client.get("/admin/boards/task/add/")
        token = client.cookies["csrftoken"].value
        form = {"project": project.pk, "task_status": columns["todo"].pk, "title": "x", "position": "0"}
        response = client.post(
            "/admin/boards/task/add/", form, headers={"X-CSRFToken": token, "Origin": "https://evil.example"}
        )
        assert response.status_code == 403
        # The same request from our own origin goes through: the token itself was valid.
        response = client.post(
            "/admin/boards/task/add/", form, headers={"X-CSRFToken": token, "Origin": "http://testserver"}
        )
        assert response.status_code == 302
