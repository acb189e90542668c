"""Every route, every form field, hostile values: a clear 4xx or a redirect, never a 500, and the
counts stay exact.

The routes come from the URL configuration and the field names from the forms each page renders,
so pages and fields added later are covered without touching this test.
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from boards import services
from boards.models import Invitation
from tests.factories import MembershipFactory
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(300)]

HOSTILE_VALUES = [
    "",
    "x" * 100_000,
    "\x00",
    "-1",
    "99999999999999999999",
    "1e3",
    "١٢",  # Arabic-Indic digits
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "\u202egnp.exe",
]
FIELD = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', re.I)
SKIPPED_PREFIXES = ("admin:",)


def routes() -> list[tuple[str, list[str]]]:
    """(route name, its parameter names) for every named route outside the admin."""
    found = []

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, f"{pattern.namespace}:" if pattern.namespace else namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                name = namespace + pattern.name
                if not name.startswith(SKIPPED_PREFIXES):
                    found.append((name, tuple(pattern.pattern.converters)))

    walk(get_resolver().url_patterns)
    return sorted(set(found))


ROUTES = routes()


@pytest.fixture
def world(owner, application, project, columns, settings, tmp_path):
    """A workspace with a second member, a card, and an open invitation: every id a route takes."""
    member = MembershipFactory(application=application, role="editor").user
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="Card", reporter=owner)
    token = "t" * 43
    # An attachment (issue 14, item 7), stored in a directory of this test's own.
    settings.MEDIA_ROOT = tmp_path / "media"
    attachment = services.add_attachment(
        project=project, task_id=task.pk, upload=SimpleUploadedFile("a.txt", b"hello"), actor=owner
    )
    comment = services.add_comment(project=project, task_id=task.pk, body="A comment", author=owner)
    return {
        "attachment_id": attachment.pk,
        "file_token": attachment.token,
        "application_id": application.pk,
        "project_id": project.pk,
        "task_id": task.pk,
        "comment_id": comment.pk,
        "status_id": columns["todo"].pk,
        "user_id": member.pk,
        "label_id": services.create_label(project=project, name="Bug", colour="#b91c1c").pk,
        "token": token,
        "uidb64": "MQ",
        "key": f"WEB-{task.number}",
        "invitation_id": Invitation.objects.create(
            application=application,
            token_hash="0" * 64,
            expires_at="2099-01-01T00:00:00Z",
            created_by=owner,
        ).pk,
    }


def field_names(html: str) -> set[str]:
    return set(FIELD.findall(html)) - {"csrfmiddlewaretoken"}


@pytest.mark.parametrize(("name", "params"), ROUTES, ids=[name for name, _ in ROUTES])
def test_hostile_values_in_every_field(client, owner, world, name, params):
    client.force_login(owner)
    try:
        url = reverse(name, kwargs={param: world.get(param, 1) for param in params})
    except Exception:  # noqa: BLE001 - a route whose parameters we cannot fill is listed below
        pytest.fail(f"cannot build {name} with {params}: add its parameter to the world fixture")
    page = client.get(url)
    assert page.status_code < 500, (url, page.status_code)
    readable = page.status_code == 200 and not page.streaming
    fields = field_names(page.content.decode(errors="replace")) if readable else set()
    fields |= {"name", "title", "status_id", "after_id", "role", "key", "email"}
    for value in HOSTILE_VALUES:
        response = client.get(url, dict.fromkeys(fields | {"q", "after", "days", "assignee", "page"}, value[:2000]))
        assert response.status_code < 500, (url, "GET", value[:20], response.status_code)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post(url, dict.fromkeys(fields, value), headers=headers)
            assert response.status_code < 500, (url, value[:20], headers, response.status_code)
        # The same field twice: one value is taken or the request refused, never a crash.
        response = client.post(url, {field: [value, "1"] for field in fields})
        assert response.status_code < 500, (url, "repeated", value[:20], response.status_code)
        if not client.session.get("_auth_user_id"):  # logged out, or the account changed: log in again
            client.force_login(owner)
    assert_counts_exact()


def test_every_route_is_covered():
    """The list is not empty and reaches the newer pages (a broken walk would pass every test)."""
    names = {name for name, _ in ROUTES}
    assert {"board", "card_move", "members", "invitation", "signup", "profile", "workspace_delete"} <= names
