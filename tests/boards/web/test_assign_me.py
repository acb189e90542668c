"""The board's `a` key: "assign me", one write that cannot overwrite anyone's text."""

import pytest
from django.urls import reverse

from boards import services
from boards.models import Task, TaskEvent

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def url(task):
    return reverse("card_assign_me", args=[task.project_id, task.pk])


def test_an_editor_takes_the_card_and_the_face_says_so(editor_client, editor, task):
    version = task.version
    response = editor_client.post(url(task), headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="card-{task.pk}"' in html and 'hx-swap-oob="true"' in html
    assert "is assigned to you" in html
    stored = Task.objects.get(pk=task.pk)
    assert (stored.assignee_id, stored.version) == (editor.pk, version + 1)
    assert TaskEvent.objects.filter(task_id=task.pk, kind="edited").count() == 1


def test_already_mine_changes_nothing(editor_client, editor, task):
    editor_client.post(url(task), headers=HX)
    version = Task.objects.get(pk=task.pk).version
    assert editor_client.post(url(task), headers=HX).status_code == 200
    assert Task.objects.get(pk=task.pk).version == version


def test_without_javascript_it_answers_see_other(editor_client, task):
    response = editor_client.post(url(task))
    assert response.status_code == 303


def test_viewers_and_outsiders_are_refused(viewer_client, task):
    assert viewer_client.post(url(task), headers=HX).status_code == 403
    assert Task.objects.get(pk=task.pk).assignee_id is None


def test_outsider_gets_404(outsider_client, task):
    assert outsider_client.post(url(task), headers=HX).status_code == 404


def test_an_archived_card_is_refused_clearly(editor_client, project, task):
    services.archive_task(project=project, task_id=task.pk)
    response = editor_client.post(url(task), headers=HX)
    assert response.status_code in (400, 409, 422)
    assert "unarchive it to assign it" in response.content.decode()
    assert Task.objects.get(pk=task.pk).assignee_id is None


def test_a_get_is_not_allowed(editor_client, task):
    assert editor_client.get(url(task)).status_code == 405
