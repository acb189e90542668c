"""Security settings: production checks, secure cookies, the Content-Security-Policy."""

import re
import subprocess
import sys

import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.reliability.conftest import ROOT, production_env

pytestmark = pytest.mark.timeout(60)

PRODUCTION = {
    "SECRET_KEY": "k2J9v0-production-like-secret-" + "q7" * 30,
    "ALLOWED_HOSTS": "tasks.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://tasks.example.com",
}


def run_production(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = production_env(**PRODUCTION)
    # Not a test run: production storage, production Redis index.
    environment.pop("PYTEST_VERSION", None)
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        environment.pop(name)
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=50
    )


class TestProductionSettings:
    def test_check_deploy_is_clean(self):
        result = run_production("manage.py", "check", "--deploy", "--fail-level", "WARNING")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no issues" in result.stdout

    def test_cookies_secure_and_policy_on(self):
        script = (
            "import django, json; django.setup(); from django.conf import settings as s; "
            "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
            "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, s.X_FRAME_OPTIONS, "
            "'tasktrack.middleware.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE, "
            "'tasktrack.middleware.DatabaseUnavailableMiddleware' in s.MIDDLEWARE, "
            "s.DATABASES['default']['CONN_HEALTH_CHECKS']]))"
        )
        result = run_production("-c", script, DJANGO_SETTINGS_MODULE="tasktrack.settings")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == '[true, true, true, true, true, "DENY", true, true, true]'

    @pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
    def test_missing_variable_refuses_to_start(self, missing):
        result = run_production("manage.py", "check", **{missing: ""})
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


POLICY_DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'self'",
]

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.I)


def assert_policy(response) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    for directive in POLICY_DIRECTIVES:
        assert directive in policy, f"{directive!r} missing from {policy!r}"
    assert re.search(r"connect-src 'self' ws://testserver wss://testserver", policy), policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def assert_works_under_policy(html: str, *, styles: bool = True) -> None:
    """What the policy would block: inline <script>, on*= handlers, javascript: URLs, style=."""
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not EVENT_HANDLER.search(html), EVENT_HANDLER.search(html).group(0)
    assert not JAVASCRIPT_URL.search(html), JAVASCRIPT_URL.search(html).group(0)
    if styles:
        assert not STYLE_ATTRIBUTE.search(html), STYLE_ATTRIBUTE.search(html).group(0)


class TestContentSecurityPolicy:
    def test_login_page(self, db, client):
        response = client.get("/login/")
        assert response.status_code == 200
        assert_policy(response)
        assert_works_under_policy(response.content.decode())

    def test_pages_of_a_member(self, client, owner, project):
        from boards import services

        task = services.create_task(
            project=project, status_id=project.task_statuses.first().pk, title="Policy", reporter=owner
        )
        client.force_login(owner)
        pages = ["/", project.get_absolute_url(), task.get_absolute_url(), f"/projects/{project.pk}/archived/"]
        pages += [f"/projects/{project.pk}/columns/", f"/projects/{project.pk}/insights/"]
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            assert_policy(response)
            assert_works_under_policy(response.content.decode())

    def test_admin_and_error_pages(self, db, client):
        admin = UserFactory(is_staff=True, is_superuser=True)
        client.force_login(admin)
        for url, status in [("/admin/", 200), ("/admin/boards/task/add/", 200), ("/projects/999/", 404)]:
            response = client.get(url)
            assert response.status_code == status, url
            assert_policy(response)
            # The admin's own templates are Django's; they run no inline script either.
            assert not INLINE_SCRIPT.search(response.content.decode()), url

    def test_page_cannot_be_framed(self, db, client):
        response = client.get("/login/")
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def directives(header: str) -> dict[str, str]:
    """A policy header as {directive: sources}: the order of directives carries no meaning."""
    pairs = (part.strip().partition(" ") for part in header.split(";") if part.strip())
    return {name: sources for name, _, sources in pairs}


def test_policy_setting_is_the_one_sent(settings, db):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"], "connect-src": ["'self'"]}}
    response = Client().get("/login/")
    assert directives(response.headers["Content-Security-Policy"]) == {
        "default-src": "'none'",
        "connect-src": "'self' ws://testserver wss://testserver",
    }


def test_the_policy_is_the_one_of_the_hand_written_middleware(db):
    # Moving to django-csp changed no directive (tasktrack.middleware before, settings now).
    response = Client().get("/login/", HTTP_HOST="localhost:8000")
    assert directives(response.headers["Content-Security-Policy"]) == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": "'self' ws://localhost:8000 wss://localhost:8000",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
        "base-uri": "'self'",
        "object-src": "'none'",
    }


def test_a_view_can_loosen_the_policy_with_django_csps_decorators(rf):
    from csp.decorators import csp_update

    from tasktrack.middleware import ContentSecurityPolicyMiddleware

    @csp_update({"img-src": "https://images.example"})
    def view(request):
        from django.http import HttpResponse

        return HttpResponse("ok")

    request = rf.get("/")
    response = ContentSecurityPolicyMiddleware(view)(request)
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["img-src"] == "'self' data: https://images.example"
    assert policy["connect-src"] == "'self' ws://testserver wss://testserver"


def test_foreign_host_header_is_400_with_a_policy(db, caplog):
    response = Client().get("/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    policy = response.headers["Content-Security-Policy"]
    assert directives(policy)["connect-src"] == "'self'" and "evil.example" not in policy
    assert len([r for r in caplog.records if "Invalid HTTP_HOST" in r.getMessage()]) == 1
