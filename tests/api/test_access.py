"""Who may do what through the API: tokens and their scope, the session with CSRF, roles, workspaces."""

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from api import services as token_services
from api import tokens
from api.models import ApiToken
from api.permissions import READ_ONLY_TOKEN
from boards import services
from boards.queries import VIEWER_REFUSAL
from tests.api.conftest import ApiClient, make_token
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="A card", reporter=owner)


def writes(project, columns, card) -> list[tuple[str, str, dict | None]]:
    """Every write endpoint, with a valid body."""
    return [
        ("post", reverse("api_cards", args=[project.pk]), {"column_id": columns["todo"].pk, "title": "New"}),
        ("patch", reverse("api_card", args=[project.pk, card.pk]), {"version": card.version, "title": "Edited"}),
        ("post", reverse("api_card_move", args=[project.pk, card.pk]), {"column_id": columns["done"].pk}),
        ("post", reverse("api_card_archive", args=[project.pk, card.pk]), None),
        ("post", reverse("api_card_unarchive", args=[project.pk, card.pk]), None),
        ("post", reverse("api_comments", args=[project.pk, card.pk]), {"body": "Hello"}),
        ("post", reverse("api_labels", args=[project.pk]), {"name": "bug", "colour": "#1d4ed8"}),
        ("delete", reverse("api_card", args=[project.pk, card.pk]), None),
    ]


def reads(application, project, card) -> list[str]:
    return [
        reverse("api_workspace", args=[application.pk]),
        reverse("api_projects", args=[application.pk]),
        reverse("api_members", args=[application.pk]),
        reverse("api_project", args=[project.pk]),
        reverse("api_counts", args=[project.pk]),
        reverse("api_columns", args=[project.pk]),
        reverse("api_events", args=[project.pk]),
        reverse("api_labels", args=[project.pk]),
        reverse("api_cards", args=[project.pk]),
        reverse("api_card", args=[project.pk, card.pk]),
        reverse("api_comments", args=[project.pk, card.pk]),
    ]


class TestTokens:
    def test_a_read_only_token_is_refused_on_every_write(self, owner, project, columns, card):
        api = ApiClient(make_token(owner, ApiToken.Scope.READ))
        for method, url, body in writes(project, columns, card):
            response = getattr(api, method)(url, body)
            assert response.status_code == 403, (method, url)
            assert response.json() == {"detail": READ_ONLY_TOKEN}
        card.refresh_from_db()
        assert card.title == "A card" and card.archived_at is None
        assert api.get(reverse("api_card", args=[project.pk, card.pk])).status_code == 200

    def test_only_the_hash_of_the_secret_is_stored(self, owner):
        token, text = token_services.create_token(user=owner, name="CI", scope="write")
        prefix, secret = tokens.parse(text)
        assert token.prefix == prefix and secret not in token.secret_hash and text not in str(token.__dict__)
        assert token.secret_hash == tokens.hash_secret(secret)

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer tt_000000000000_" + "a" * 43,  # unknown
            "Bearer nonsense",
            "Bearer",
            "Bearer a b",
            "Bearer tt_000000000000_" + "é" * 43,
        ],
    )
    def test_unknown_or_malformed_tokens_answer_401(self, owner, header):
        response = Client().get(reverse("api_workspaces"), headers={"Authorization": header})
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_a_wrong_secret_with_a_real_prefix_answers_401(self, owner):
        prefix, _ = tokens.parse(make_token(owner))
        response = ApiClient(f"tt_{prefix}_{'b' * 43}").get(reverse("api_workspaces"))
        assert response.status_code == 401

    def test_revoked_and_expired_tokens_answer_401(self, owner):

        revoked = make_token(owner)
        token_services.revoke_token(user=owner, token_id=ApiToken.objects.get(prefix=tokens.parse(revoked)[0]).pk)
        expiring = make_token(owner, expires_at=timezone.now() + timedelta(days=1))
        ApiToken.objects.filter(prefix=tokens.parse(expiring)[0]).update(expires_at=timezone.now())
        for text in (revoked, expiring):
            assert ApiClient(text).get(reverse("api_workspaces")).status_code == 401

    def test_a_deactivated_user_s_token_answers_401(self, owner):
        text = make_token(owner)
        owner.is_active = False
        owner.save(update_fields=["is_active"])
        assert ApiClient(text).get(reverse("api_workspaces")).status_code == 401

    def test_no_credentials_answer_401_not_a_redirect_to_log_in(self, db):
        response = Client().get(reverse("api_workspaces"))
        assert response.status_code == 401 and response.json()["detail"]

    def test_last_used_at_is_written_at_most_once_a_minute(self, owner, django_assert_num_queries):
        text = make_token(owner)
        api = ApiClient(text)
        token = ApiToken.objects.get(prefix=tokens.parse(text)[0])
        assert token.last_used_at is None
        api.get(reverse("api_workspaces"))
        token.refresh_from_db()
        first = token.last_used_at
        assert first is not None
        with django_assert_num_queries(2):  # the token with its user, the workspaces: no UPDATE
            api.get(reverse("api_workspaces"))
        token.refresh_from_db()
        assert token.last_used_at == first
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(seconds=61))
        api.get(reverse("api_workspaces"))
        token.refresh_from_db()
        assert token.last_used_at > first


class TestSession:
    def test_the_browser_session_reads_and_writes_with_csrf(self, owner, project, columns):
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        assert client.get(reverse("api_project", args=[project.pk])).status_code == 200
        url, body = reverse("api_cards", args=[project.pk]), {"column_id": columns["todo"].pk, "title": "From JS"}
        refused = client.post(url, body, content_type="application/json")
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        client.get(reverse("profile"))  # sets the CSRF cookie, as any page does
        csrf = client.cookies["csrftoken"].value
        response = client.post(url, body, content_type="application/json", headers={"X-CSRFToken": csrf})
        assert response.status_code == 201


class TestWorkspaces:
    def test_another_workspace_answers_404_on_every_read_and_write(self, outsider, application, project, columns, card):
        api = ApiClient(make_token(outsider))
        for url in reads(application, project, card):
            assert api.get(url).status_code == 404, url
        for method, url, body in writes(project, columns, card):
            assert getattr(api, method)(url, body).status_code == 404, (method, url)
        card.refresh_from_db()
        assert card.title == "A card"

    def test_a_card_of_another_project_is_404_here(self, owner, application, project, columns):
        elsewhere = make_project(application, name="Other", key="OTH")
        column = elsewhere.task_statuses.first()
        theirs = services.create_task(project=elsewhere, status_id=column.pk, title="Theirs", reporter=owner)
        api = ApiClient(make_token(owner))
        assert api.get(reverse("api_card", args=[project.pk, theirs.pk])).status_code == 404
        response = api.patch(reverse("api_card", args=[project.pk, theirs.pk]), {"version": 1, "title": "x"})
        assert response.status_code == 404
        response = api.post(reverse("api_cards", args=[project.pk]), {"column_id": column.pk, "title": "x"})
        assert response.status_code == 400 and "column_id" in response.json()["errors"]

    def test_a_viewer_reads_but_every_write_is_403(self, viewer, application, project, columns, card):
        api = ApiClient(make_token(viewer))
        for url in reads(application, project, card):
            assert api.get(url).status_code == 200, url
        for method, url, body in writes(project, columns, card):
            response = getattr(api, method)(url, body)
            assert response.status_code == 403, (method, url)
            assert response.json()["detail"] == VIEWER_REFUSAL

    def test_an_archived_project_is_read_only(self, owner, project, columns, card):
        services.archive_project(project=project, actor=owner)
        api = ApiClient(make_token(owner))
        assert api.get(reverse("api_card", args=[project.pk, card.pk])).status_code == 200
        response = api.post(reverse("api_card_archive", args=[project.pk, card.pk]))
        assert response.status_code == 403 and "archived" in response.json()["detail"]


class TestRateLimits:
    @override_settings(API_RATE_WRITE=2, API_RATE_READ=3)
    def test_a_token_over_its_limit_gets_429_with_retry_after(self, owner, project, columns):
        api, other = ApiClient(make_token(owner)), ApiClient(make_token(owner))
        url = reverse("api_cards", args=[project.pk])
        body = {"column_id": columns["todo"].pk, "title": "x"}
        assert [api.post(url, body).status_code for _ in range(2)] == [201, 201]
        refused = api.post(url, body)
        assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
        # reads are counted apart, and every token has its own limits
        assert [api.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert other.post(url, body).status_code == 201


class TestRedisDown:
    def test_with_redis_down_the_api_still_reads_and_writes(self, owner, project, columns, settings):
        """The rate limit lets traffic through (the cache ignores its errors), as ARCHITECTURE.md asks."""
        from tests.support import ports

        dead = f"redis://127.0.0.1:{ports.refused_port()}/0"
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": dead,
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1, "IGNORE_EXCEPTIONS": True},
            }
        }
        settings.API_RATE_WRITE = 1
        api = ApiClient(make_token(owner))
        url = reverse("api_cards", args=[project.pk])
        body = {"column_id": columns["todo"].pk, "title": "x"}
        assert [api.post(url, body).status_code for _ in range(3)] == [201, 201, 201]
        assert api.get(url).status_code == 200
