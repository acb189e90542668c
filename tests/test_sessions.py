"""Sessions: stored in PostgreSQL, read through Redis (tasktrack.sessions), the cached copy capped."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tasktrack import sessions

pytestmark = pytest.mark.django_db


def session_queries(context) -> list[str]:
    return [q["sql"] for q in context.captured_queries if "django_session" in q["sql"]]


class TestCachedSessions:
    def test_a_signed_in_request_reads_its_session_from_the_cache(self, owner_client):
        with CaptureQueriesContext(connection) as context:
            response = owner_client.get(reverse("home"))
        assert response.status_code == 200
        assert session_queries(context) == []

    def test_a_flushed_cache_falls_back_to_the_database_and_fills_it_again(self, owner_client, owner):
        cache.clear()
        with CaptureQueriesContext(connection) as context:
            response = owner_client.get(reverse("home"))
        assert response.status_code == 200
        assert response.wsgi_request.user == owner  # still signed in: PostgreSQL holds the session
        assert len(session_queries(context)) == 1
        with CaptureQueriesContext(connection) as context:
            owner_client.get(reverse("home"))
        assert session_queries(context) == []

    def test_log_out_ends_the_session_in_both(self, owner_client):
        key = owner_client.cookies[settings.SESSION_COOKIE_NAME].value
        owner_client.post(reverse("logout"))
        assert not Session.objects.filter(session_key=key).exists()
        assert cache.get(sessions.cached_db.KEY_PREFIX + key) is None
        # The old cookie no longer signs anyone in.
        owner_client.cookies[settings.SESSION_COOKIE_NAME] = key
        response = owner_client.get(reverse("home"))
        assert response.status_code == 302

    def test_the_cached_copy_lives_at_most_session_cache_seconds(self, owner_client, settings):
        key = owner_client.cookies[settings.SESSION_COOKIE_NAME].value
        ttl = cache.ttl(sessions.cached_db.KEY_PREFIX + key)
        assert 0 < ttl <= settings.SESSION_CACHE_SECONDS < settings.SESSION_COOKIE_AGE

    def test_the_cap_never_lengthens_a_shorter_lifetime(self):
        assert sessions._capped(10) == 10
        assert sessions._capped(10**9) == sessions.cache_seconds()
        assert sessions._capped(None) == sessions.cache_seconds()
        assert sessions._capped(-5) == 0
