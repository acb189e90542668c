"""The card's checklist on its page and dialog: editors tick items, viewers see disabled boxes."""

import pytest
from django.urls import reverse

from boards import services
from boards.models import Task
from tests.boards.conftest import HX

pytestmark = pytest.mark.django_db

TEXT = "- [ ] one\n- [x] two\n- [ ] three"


@pytest.fixture
def card(project, columns, owner):
    return services.create_task(
        project=project, status_id=columns["todo"].pk, title="List", reporter=owner, description=TEXT
    )


def url(project, card):
    return reverse("card_checklist", args=[project.pk, card.pk])


class TestChecklistView:
    def test_editor_sees_enabled_boxes_viewer_disabled(self, client, editor, viewer, card):
        client.force_login(editor)
        page = client.get(card.get_absolute_url()).content.decode()
        assert page.count('name="checked"') == 3 and 'data-checklist-item="2"' in page
        client.force_login(viewer)
        page = client.get(card.get_absolute_url()).content.decode()
        assert 'name="checked"' not in page and page.count('disabled=""') >= 3

    def test_a_click_ticks_one_item(self, editor_client, project, card):
        data = {"version": card.version, "item": "2", "checked": ["1", "2"], "total": "3", "context": "dialog"}
        response = editor_client.post(url(project, card), data, headers=HX)
        assert response.status_code == 200
        stored = Task.objects.get(pk=card.pk)
        assert stored.description == "- [ ] one\n- [x] two\n- [x] three"
        assert (stored.checklist_done, stored.version) == (2, card.version + 1)
        assert 'hx-swap-oob="true"' in response.content.decode()  # the card face, with its progress
        assert "2/3" in response.content.decode()

    def test_a_click_on_a_stale_copy_is_refused(self, editor_client, project, card):
        services.update_task(project=project, task_id=card.pk, version=card.version, description=TEXT + "\n- [ ] four")
        data = {"version": card.version, "item": "0", "checked": ["0"], "context": "dialog"}
        response = editor_client.post(url(project, card), data, headers=HX)
        assert response.status_code == 409
        assert "Someone else changed this card" in response.content.decode()
        assert Task.objects.get(pk=card.pk).description == TEXT + "\n- [ ] four"

    def test_without_javascript_the_whole_list(self, editor_client, project, card):
        response = editor_client.post(url(project, card), {"version": card.version, "checked": ["0"], "total": "3"})
        assert response.status_code == 303
        assert Task.objects.get(pk=card.pk).description == "- [x] one\n- [ ] two\n- [ ] three"

    @pytest.mark.parametrize(
        "data",
        [
            {},
            {"version": "x", "item": "0"},
            {"version": "1"},
            {"version": "1", "item": "-1"},
            {"version": "1", "item": "99"},
        ],
    )
    def test_hostile_input_is_refused_clearly(self, editor_client, project, card, data):
        response = editor_client.post(url(project, card), data, headers=HX)
        assert response.status_code == 422
        assert Task.objects.get(pk=card.pk).version == card.version

    def test_viewer_and_outsider(self, client, viewer, outsider, project, card):
        client.force_login(viewer)
        assert client.post(url(project, card), {"version": card.version, "item": "0"}).status_code == 403
        client.force_login(outsider)
        assert client.post(url(project, card), {"version": card.version, "item": "0"}).status_code == 404
