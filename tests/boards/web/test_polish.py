"""Rough edges of issue 16 that a server response shows: time phrases, the home rename, the
columns page saying first which column cannot be deleted, the insights page's header."""

import datetime as dt

import pytest
from django.urls import reverse

from boards import clock, services
from boards.models import Project
from tests.boards.conftest import HX
from tests.boards.web.test_views import oob_ids

pytestmark = pytest.mark.django_db


class TestTimePhrases:
    def test_card_page_archived_list_and_activity_say_just_now_and_minutes_ago(self, owner_client, project, columns):
        with clock.frozen_at(clock.now() - dt.timedelta(minutes=5, seconds=3)):
            task = services.create_task(
                project=project, status_id=columns["todo"].pk, title="Old enough", reporter=None
            )
        services.archive_task(project=project, task_id=task.pk)
        card = owner_client.get(reverse("card", args=[project.pk, task.pk])).content.decode()
        assert "created 5 minutes ago" in card
        assert "just now" in card  # the archiving, in the activity list
        assert " ago ago" not in card and "now ago" not in card
        archived = owner_client.get(reverse("archived", args=[project.pk])).content.decode()
        assert "archived just now" in archived and "now ago" not in archived


class TestHomeRename:
    def test_htmx_rename_closes_the_form_and_confirms(self, owner_client, project):
        response = owner_client.post(
            reverse("project_rename", args=[project.pk]), {"name": "Web <b>site</b>"}, headers=HX
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert oob_ids(html) == [
            f"project-{project.pk}-name",
            f"project-{project.pk}-rename",
            f"project-{project.pk}-message",  # emptied: a refusal shown before goes away
            f"application-{project.application_id}-message",
        ]
        # Sent back closed: no `open` attribute.
        assert f'<details class="rename" id="project-{project.pk}-rename" hx-swap-oob="true">' in html
        assert "message shown ok" in html
        assert "Renamed the project to “Web &lt;b&gt;site&lt;/b&gt;”." in html  # escaped
        assert Project.objects.get(pk=project.pk).name == "Web <b>site</b>"

    def test_plain_post_redirects_home_with_the_confirmation(self, owner_client, project):
        response = owner_client.post(
            reverse("project_rename", args=[project.pk]), {"name": "Web site", "next": "home"}, follow=True
        )
        assert response.redirect_chain[-1][0] == reverse("home")
        assert "Renamed the project to “Web site”." in response.content.decode()

    def test_refusal_is_an_error_message_in_the_tile(self, owner_client, project):
        response = owner_client.post(reverse("project_rename", args=[project.pk]), {"name": "  "}, headers=HX)
        assert response.status_code == 422
        assert response["HX-Retarget"] == f"#project-{project.pk}-message"
        assert "message shown error" in response.content.decode()

    def test_another_workspace_answers_404(self, client, outsider, project):
        client.force_login(outsider)
        response = client.post(reverse("project_rename", args=[project.pk]), {"name": "Mine"}, headers=HX)
        assert response.status_code == 404
        assert Project.objects.get(pk=project.pk).name == "Website"


class TestColumnDeleteSaysFirst:
    def test_a_column_with_cards_has_no_delete_button_and_says_why(self, owner_client, project, columns):
        services.create_task(project=project, status_id=columns["todo"].pk, title="Live", reporter=None)
        archived = services.create_task(project=project, status_id=columns["issue"].pk, title="Gone", reporter=None)
        services.archive_task(project=project, task_id=archived.pk)
        html = owner_client.get(reverse("columns", args=[project.pk])).content.decode()
        for category, held in (("todo", 1), ("issue", 1)):
            row = _row(html, columns[category].pk)
            assert "Cannot be deleted" in row and f"still holds {held} card(s)" in row
            assert reverse("column_delete", args=[project.pk, columns[category].pk]) not in row
        assert "archived ones included" in _row(html, columns["issue"].pk)
        empty = _row(html, columns["done"].pk)
        assert reverse("column_delete", args=[project.pk, columns["done"].pk]) in empty
        assert "Cannot be deleted" not in empty

    def test_the_last_column_says_so(self, owner_client, project, columns):
        for category in ("active", "review", "issue", "done"):
            services.delete_column(project=project, status_id=columns[category].pk)
        html = owner_client.get(reverse("columns", args=[project.pk])).content.decode()
        assert "A board keeps at least one column." in _row(html, columns["todo"].pk)
        assert reverse("column_delete", args=[project.pk, columns["todo"].pk]) not in html

    def test_the_page_after_a_change_says_it_too(self, owner_client, project, columns):
        services.create_task(project=project, status_id=columns["review"].pk, title="Live", reporter=None)
        url = reverse("column_reorder", args=[project.pk])
        response = owner_client.post(url, {"status_id": columns["review"].pk, "direction": "left"}, headers=HX)
        assert "still holds 1 card(s)" in _row(response.content.decode(), columns["review"].pk)


def _row(html: str, column_id: int) -> str:
    start = html.index(f'id="column-setting-{column_id}"')
    end = html.find('<li class="column-setting"', start + 1)
    return html[start : end if end != -1 else len(html)]


class TestInsightsHeader:
    def test_breadcrumb_and_project_links_as_on_the_board(self, owner_client, project):
        html = owner_client.get(reverse("project_insights", args=[project.pk])).content.decode()
        assert 'aria-label="Breadcrumb"' in html and project.application.name in html
        assert f'href="{project.get_absolute_url()}"' in html
        assert 'class="board-head"' in html and f'id="project-{project.pk}-status"' in html
        assert 'aria-current="page">Insights' in html
        assert reverse("columns", args=[project.pk]) in html  # the owner's Columns link

    def test_a_viewer_has_no_columns_link(self, client, viewer, project):
        client.force_login(viewer)
        html = client.get(reverse("project_insights", args=[project.pk])).content.decode()
        assert reverse("archived", args=[project.pk]) in html
        assert reverse("columns", args=[project.pk]) not in html
