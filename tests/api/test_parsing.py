"""Hostile or clumsy input: every refusal is a 4xx with field errors, never a 500, and writes nothing."""

import json

import pytest
from django.urls import reverse

from boards import services
from boards.models import Task
from tests.api.conftest import ApiClient, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner):
    return ApiClient(make_token(owner))


@pytest.fixture
def card(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="A card", reporter=owner)


class TestStrictInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"column_id": "7", "title": "x"}, "column_id"),
            ({"column_id": 7.0, "title": "x"}, "column_id"),
            ({"column_id": True, "title": "x"}, "column_id"),
            ({"column_id": 2**63, "title": "x"}, "column_id"),
            ({"column_id": -1, "title": "x"}, "column_id"),
            ({"title": "x"}, "column_id"),
            ({"column_id": 1, "title": 7}, "title"),
            ({"column_id": 1, "title": ["x"]}, "title"),
            ({"column_id": 1, "title": "   "}, "title"),
            ({"column_id": 1, "title": "x" * 201}, "title"),
            ({"column_id": 1, "title": "x", "position": "middle"}, "position"),
            ({"column_id": 1, "title": "x", "assignee_id": "me"}, "assignee_id"),
            ({"column_id": 1, "title": "x", "priority": 5}, "priority"),
            ({"column_id": 1, "title": "x", "priority": True}, "priority"),
            ({"column_id": 1, "title": "x", "labels": "1"}, "labels"),
            ({"column_id": 1, "title": "x", "labels": [2**63]}, "labels"),
            ({"column_id": 1, "title": "x", "due_date": "2030-02-30"}, "due_date"),
            ({"column_id": 1, "title": "x", "due_at": "tomorrow"}, "due_at"),
        ],
    )
    def test_a_bad_create_answers_400_naming_the_field(self, api, project, columns, body, field):
        if type(body.get("column_id")) is int and body["column_id"] == 1:
            body = {**body, "column_id": columns["todo"].pk}
        response = api.post(reverse("api_cards", args=[project.pk]), body)
        assert response.status_code == 400, response.content
        assert field in response.json()["errors"] and response.json()["detail"]
        assert not Task.objects.exists()

    def test_a_label_of_another_project_is_refused_on_create(self, api, project, columns, owner, application):
        other = services.create_project(application=application, name="Other", key="OTH", actor=owner)
        label = services.create_label(project=other, name="theirs", colour="#1d4ed8")
        body = {"column_id": columns["todo"].pk, "title": "x", "labels": [label.pk]}
        response = api.post(reverse("api_cards", args=[project.pk]), body)
        assert response.status_code == 400 and "not a label of this project" in response.content.decode()
        assert not Task.objects.filter(project=project).exists()

    def test_the_services_messages_come_through(self, api, project, columns, outsider):
        url = reverse("api_cards", args=[project.pk])
        response = api.post(url, {"column_id": columns["todo"].pk, "title": " "})
        assert response.json()["errors"] == {"title": ["A card needs a title."]}
        response = api.post(url, {"column_id": columns["todo"].pk, "title": "x", "assignee_id": outsider.pk})
        assert response.json()["errors"] == {"assignee_id": ["Pick a member of this workspace (or nobody)."]}
        response = api.post(url, {"column_id": columns["todo"].pk, "title": "x", "due_at": "2030-01-31T17:00:00Z"})
        assert response.status_code == 400
        assert response.json()["errors"] == {"non_field_errors": ["A due time needs a due date."]}
        assert not Task.objects.exists()

    @pytest.mark.parametrize(
        "raw", ["{", "null", "[1, 2]", '"text"', "7", '{"column_id": 1, "title": "x"} trailing', b"\xff\xfe"]
    )
    def test_bad_json_answers_400(self, api, project, raw):
        response = api.post(reverse("api_cards", args=[project.pk]), raw=raw)
        assert response.status_code == 400, (raw, response.content)
        assert not Task.objects.exists()

    def test_null_characters_and_lone_surrogates_are_refused(self, api, project, columns):
        url = reverse("api_cards", args=[project.pk])
        for title in ("a\x00b", "a\ud800b"):
            # json.dumps escapes both as \u0000 and \ud800: valid JSON text, not storable text
            response = api.post(url, raw=json.dumps({"column_id": columns["todo"].pk, "title": title}))
            assert response.status_code == 400 and "title" in response.json()["errors"], response.content
        assert not Task.objects.exists()

    def test_a_body_over_the_upload_limit_answers_413(self, api, project, columns, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
        body = {"column_id": columns["todo"].pk, "title": "x", "description": "y" * 20_000}
        response = api.post(reverse("api_cards", args=[project.pk]), body)
        assert response.status_code == 413
        assert not Task.objects.exists()

    def test_a_form_encoded_body_is_not_read(self, owner, project, columns):
        """JSON only: a form's fields are not taken (the site's middleware has read the form already,
        so DRF sees an empty body rather than answering 415)."""
        api = ApiClient(make_token(owner))
        response = api.client.post(
            reverse("api_cards", args=[project.pk]),
            {"column_id": columns["todo"].pk, "title": "x"},
            headers=api.headers,
        )
        assert response.status_code == 400 and "column_id" in response.json()["errors"]
        assert not Task.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"title": "no version"},
            {"version": "1", "title": "x"},
            {"version": 1, "priority": "3"},
            {"version": 1, "priority": 9},
            {"version": 1, "labels": "1"},
            {"version": 1, "labels": [1] * 21},
            {"version": 1, "labels": ["a"]},
            {"version": 1, "due_date": "2026-02-30"},
            {"version": 1, "due_date": 20260101},
            {"version": 1, "due_at": "tomorrow"},
            {"version": 1, "due_at": "2030-01-01T10:00:00+00:00"},  # a time without a day
            {"version": 1, "labels": [999999]},  # not a label of this project
            {"version": 1, "description": "x" * 20001},
        ],
    )
    def test_a_bad_edit_answers_400(self, api, project, card, body):
        response = api.patch(reverse("api_card", args=[project.pk, card.pk]), body)
        assert response.status_code == 400, (body, response.content)
        card.refresh_from_db()
        assert card.version == 1 and card.title == "A card"

    @pytest.mark.parametrize(
        "body",
        [
            {"after_id": 1},
            {"column_id": "x"},
            {"column_id": 1, "after_id": 1, "before_id": 2},
            {"column_id": 1, "position": "top", "after_id": 2},
            {"column_id": 1, "version": -1},
        ],
    )
    def test_a_bad_move_answers_400(self, api, project, card, body):
        response = api.post(reverse("api_card_move", args=[project.pk, card.pk]), body)
        assert response.status_code == 400, (body, response.content)

    def test_a_move_to_a_column_of_another_project_answers_400(self, api, project, card, owner):
        from tests.factories import make_project

        elsewhere = make_project(project.application, name="Other", key="OTH")
        response = api.post(
            reverse("api_card_move", args=[project.pk, card.pk]), {"column_id": elsewhere.task_statuses.first().pk}
        )
        assert response.status_code == 400 and "column_id" in response.json()["errors"]

    @pytest.mark.parametrize(
        "params",
        [{"limit": "101"}, {"limit": "0"}, {"limit": "x"}, {"after": "-1"}, {"after": "1e3"}, {"archived": "maybe"}],
    )
    def test_bad_page_parameters_answer_400(self, api, project, params):
        response = api.get(reverse("api_cards", args=[project.pk]), **params)
        assert response.status_code == 400 and response.json()["errors"]

    def test_a_parameter_given_twice_is_refused(self, api, project):
        response = api.client.get(reverse("api_cards", args=[project.pk]) + "?limit=1&limit=2", headers=api.headers)
        assert response.status_code == 400 and "limit" in response.json()["errors"]

    @pytest.mark.parametrize("params", [{"since": "-1"}, {"since": "x"}, {"limit": "1000"}])
    def test_bad_event_parameters_answer_400(self, api, project, params):
        assert api.get(reverse("api_events", args=[project.pk]), **params).status_code == 400

    def test_an_unknown_endpoint_is_a_json_404(self, api, client):
        for who in (api.client, client):
            response = who.post("/api/v1/nothing/here/", headers=api.headers)
            assert response.status_code == 404 and response.json()["detail"].startswith("No such endpoint")

    def test_ids_out_of_range_in_paths_are_404(self, api, project):
        assert api.client.get(f"/api/v1/projects/{'9' * 19}/", headers=api.headers).status_code == 404
        assert api.client.get("/api/v1/projects/abc/", headers=api.headers).status_code == 404
        assert api.get(reverse("api_card", args=[project.pk, 10**17])).status_code == 404

    def test_a_comment_on_an_archived_card_is_409_and_empty_is_400(self, api, project, card):
        url = reverse("api_comments", args=[project.pk, card.pk])
        assert api.post(url, {"body": "  "}).status_code == 400
        services.archive_task(project=project, task_id=card.pk)
        assert api.post(url, {"body": "hello"}).status_code == 409

    def test_a_full_column_answers_409(self, api, project, columns, owner, card):
        services.update_column(
            project=project,
            status_id=columns["done"].pk,
            actor=owner,
            name="Done",
            category="done",
            wip_limit=1,
            wip_hard=True,
        )
        services.create_task(project=project, status_id=columns["done"].pk, title="Fills it", reporter=owner)
        response = api.post(reverse("api_card_move", args=[project.pk, card.pk]), {"column_id": columns["done"].pk})
        assert response.status_code == 409
