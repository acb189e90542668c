"""The card dialog's "Move to another project": the lazily read form and the move."""

import pytest
from django.urls import reverse

from boards import services
from boards.models import Membership, Task
from tests.boards.conftest import HX
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(application):
    return make_project(application, name="Operations", key="OPS")


@pytest.fixture
def task(project, columns, owner):
    return services.create_task(project=project, status_id=columns["active"].pk, title="Travelling", reporter=owner)


def form_url(task):
    return reverse("card_transfer_form", args=[task.project_id, task.pk])


def move_url(task):
    return reverse("card_transfer", args=[task.project_id, task.pk])


def test_the_dialog_offers_the_permanent_link_and_the_move(owner_client, task):
    html = owner_client.get(task.get_absolute_url(), headers=HX).content.decode()
    assert f'data-permalink="/WEB-{task.number}/"' in html
    assert "Copy link" in html and form_url(task) in html


def test_the_form_lists_only_projects_the_user_can_edit(client, editor, owner, task, ops, application):
    viewed = ApplicationFactory(name="Just looking")
    MembershipFactory(application=viewed, user=editor, role=Membership.Role.VIEWER)
    not_editable = make_project(viewed, name="Look only", key="LOOK")
    archived = make_project(application, name="Old", key="OLD")
    services.archive_project(project=archived, actor=owner)
    client.force_login(editor)
    html = client.get(form_url(task), headers=HX).content.decode()
    assert f'value="{ops.pk}"' in html
    assert f'value="{not_editable.pk}"' not in html and f'value="{task.project_id}"' not in html
    assert f'value="{archived.pk}"' not in html


def test_viewers_get_no_form(viewer_client, task):
    html = viewer_client.get(form_url(task)).content.decode()
    assert "card-transfer-form" not in html and "Viewers cannot move cards." in html


def test_moving_from_the_dialog(owner_client, task, ops, project):
    response = owner_client.post(move_url(task), {"project": ops.pk, "context": "dialog"}, headers=HX)
    assert response.status_code == 200
    moved = Task.objects.get(pk=task.pk)
    assert moved.project_id == ops.pk
    html = response.content.decode()
    assert f'hx-swap-oob="delete:#card-{task.pk}"' in html
    assert f"OPS-{moved.number}" in html and f'data-permalink="/OPS-{moved.number}/"' in html
    assert_counts_exact(project, ops)


def test_moving_without_javascript_goes_to_the_card(owner_client, task, ops):
    response = owner_client.post(move_url(task), {"project": ops.pk})
    assert response.status_code == 303
    assert response["Location"] == Task.objects.get(pk=task.pk).get_absolute_url()


def test_a_project_the_user_cannot_see_or_edit_is_refused(client, editor, task, outsider):
    theirs = make_project(outsider.memberships.get().application, name="Theirs", key="THR")
    viewed = ApplicationFactory()
    MembershipFactory(application=viewed, user=editor, role=Membership.Role.VIEWER)
    look = make_project(viewed, name="Look", key="LOOK")
    client.force_login(editor)
    assert client.post(move_url(task), {"project": theirs.pk}, headers=HX).status_code == 422
    assert client.post(move_url(task), {"project": look.pk}, headers=HX).status_code == 403
    assert Task.objects.get(pk=task.pk).project_id == task.project_id


def test_viewers_and_outsiders_cannot_move(viewer_client, task, ops, client, outsider):
    assert viewer_client.post(move_url(task), {"project": ops.pk}, headers=HX).status_code == 403
    client.force_login(outsider)
    assert client.post(move_url(task), {"project": ops.pk}).status_code == 404


@pytest.mark.parametrize("value", ["", "x", "-1", "1.0", "99999999999999999999", "\x00"])
def test_hostile_project_values(owner_client, task, value):
    # A NUL byte is refused before any view (400); the rest by the form (422).
    assert owner_client.post(move_url(task), {"project": value}, headers=HX).status_code in (400, 422)


def test_query_count_of_a_move_is_pinned(owner_client, task, ops, django_assert_num_queries):
    # Session, user, both projects, the move's locks and writes, the new detail (with its comments and
    # attachments) and the old board's counts, the jobs queued for the events in both projects: the
    # same whatever the projects hold.
    with django_assert_num_queries(29):
        owner_client.post(move_url(task), {"project": ops.pk, "context": "dialog"}, headers=HX)
