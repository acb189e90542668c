"""The API tokens page: linked from the profile; create (the secret shown once), list, revoke."""

import pytest
from django.urls import reverse

from api import tokens
from api.models import ApiToken
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_the_profile_links_to_the_tokens_page(owner_client):
    assert reverse("api_tokens") in owner_client.get(reverse("profile")).content.decode()


def test_create_shows_the_secret_once_and_stores_its_hash(owner_client, owner):
    response = owner_client.post(reverse("api_tokens"), {"name": "CI", "scope": "write", "expires": "30"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret in response.content.decode() and 'data-copy="#new-token"' in response.content.decode()
    token = ApiToken.objects.get(user=owner)
    assert token.scope == "write" and token.expires_at is not None
    assert token.secret_hash == tokens.hash_secret(tokens.parse(secret)[1])
    listed = owner_client.get(reverse("api_tokens")).content.decode()
    assert secret not in listed and f"tt_{token.prefix}_" in listed
    assert ApiClient(secret).get(reverse("api_workspaces")).status_code == 200


@pytest.mark.parametrize(
    "data",
    [{"name": "", "scope": "read"}, {"name": "x", "scope": "admin"}, {"name": "x", "scope": "read", "expires": "2"}],
)
def test_bad_input_is_refused_with_422(owner_client, data):
    assert owner_client.post(reverse("api_tokens"), data).status_code == 422
    assert not ApiToken.objects.exists()


def test_revoke_stops_the_token_and_another_user_s_token_is_404(owner_client, owner, outsider):
    owner_client.post(reverse("api_tokens"), {"name": "CI", "scope": "read"})
    token = ApiToken.objects.get(user=owner)
    response = owner_client.post(reverse("api_token_revoke"), {"token": token.pk})
    assert response.status_code == 303
    token.refresh_from_db()
    assert token.revoked_at is not None
    from api import services

    theirs, _ = services.create_token(user=outsider, name="theirs", scope="read")
    assert owner_client.post(reverse("api_token_revoke"), {"token": theirs.pk}).status_code == 404
    assert owner_client.post(reverse("api_token_revoke"), {"token": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_the_tokens_page_needs_a_log_in_and_csrf(client, owner):
    assert client.get(reverse("api_tokens")).status_code == 302
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(reverse("api_tokens"), {"name": "x", "scope": "read"}).status_code == 403
