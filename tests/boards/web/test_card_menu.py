"""The board's one shared card menu (issue 18): a ⋯ link per card face, one menu per page."""

import re
from datetime import date

import pytest
from django.urls import reverse

from boards.live import fragments
from boards.models import Label, Task
from tests.boards.conftest import HX, add_tasks

CARD = re.compile(r'<article class="card".*?</article>', re.S)
# A dressed face as the board showed it before (0f2074d), its ⋯ menu included: 2.7 KB.
OLD_DRESSED_FACE_BYTES = 2_697


def faces(html: str) -> list[str]:
    return CARD.findall(html)


@pytest.fixture
def dressed(project, columns):
    """60 cards with everything a face can show: three labels, a priority, a due date, checklist
    progress, comment and attachment counts (as bench.data.dress_cards)."""
    labels = [Label.objects.create(project=project, name=f"Label {n}", colour="#2f6fdf") for n in range(3)]
    add_tasks(
        project,
        columns["todo"],
        60,
        title="Bench task",
        label_ids=[label.pk for label in labels],
        priority=3,
        due_date=date(2030, 1, 2),
        checklist_done=2,
        checklist_total=5,
        comment_count=3,
        attachment_count=1,
    )
    return Task.objects.filter(project=project)


class TestBoardMarkup:
    def test_one_menu_per_page_and_a_link_per_card(self, owner_client, project, columns, dressed):
        html = owner_client.get(reverse("board", args=[project.pk])).content.decode()
        cards = faces(html)
        assert len(cards) == 50  # the first page of the column
        assert html.count('id="card-menu"') == 1
        assert html.count("Choose…") == 1  # the column options once, not once per card
        for face in cards:
            assert "<form" not in face and "<select" not in face and "csrfmiddlewaretoken" not in face
            pk = re.search(r'data-id="(\d+)"', face)[1]
            link = f'<a class="card-menu-button" href="/projects/{project.pk}/cards/{pk}/" aria-haspopup="dialog"'
            assert link in face
            assert 'aria-label="Move or archive “Bench task ' in face
        menu = html[html.index('id="card-menu"') :]
        menu = menu[: menu.index("</div>")]
        # Every form of the menu carries the CSRF token; the addresses come from the card (board.js).
        assert menu.count("<form") == 2 and menu.count('name="csrfmiddlewaretoken"') == 2
        assert 'data-action="move/"' in menu and 'data-action="archive/"' in menu
        assert 'role="dialog"' in html[html.index('id="card-menu"') - 100 :][:300]
        for column in columns.values():
            assert f'<option value="{column.pk}">{column.name}</option>' in menu

    def test_a_dressed_card_face_is_less_than_half_what_it_was(self, owner_client, project, dressed):
        html = owner_client.get(reverse("board", args=[project.pk])).content.decode()
        sizes = [len(face.encode()) for face in faces(html)]
        average = sum(sizes) / len(sizes)
        assert average * 2 <= OLD_DRESSED_FACE_BYTES, average
        # The whole page per card too: the one menu does not bring the bytes back.
        assert len(html.encode()) / len(sizes) * 2 <= OLD_DRESSED_FACE_BYTES + 1_000

    def test_the_filtered_region_brings_its_menu(self, owner_client, project, dressed):
        response = owner_client.get(
            reverse("board", args=[project.pk]) + "?q=task", headers={**HX, "HX-Target": "board-columns"}
        )
        fragment = response.content.decode()
        assert fragment.lstrip().startswith('<div id="board-columns"')
        assert fragment.count('id="card-menu"') == 1
        menu = fragment[fragment.index('id="card-menu"') :]
        assert menu.count('name="csrfmiddlewaretoken"') == 2

    def test_lanes_have_one_menu_too(self, owner_client, project, dressed):
        html = owner_client.get(reverse("board", args=[project.pk]) + "?lanes=priority").content.decode()
        assert "lanes-board" in html
        assert html.count('id="card-menu"') == 1
        assert all("<form" not in face for face in faces(html))

    def test_show_more_faces_have_the_link_and_no_menu_of_their_own(self, owner_client, project, columns, dressed):
        first_page = owner_client.get(reverse("board", args=[project.pk])).content.decode()
        more = re.search(r'hx-get="(/projects/\d+/columns/\d+/cards/\?after=[^"]+)"', first_page)[1]
        html = owner_client.get(more.replace("&amp;", "&"), headers=HX).content.decode()
        cards = faces(html)
        assert len(cards) == 10
        assert all("card-menu-button" in face and "<form" not in face for face in cards)
        assert 'id="card-menu"' not in html

    def test_a_viewer_gets_neither(self, viewer_client, project, dressed):
        html = viewer_client.get(reverse("board", args=[project.pk])).content.decode()
        assert "card-menu" not in html

    def test_the_live_push_renders_the_link_for_editors_only(self, project, dressed):
        task = dressed.first()
        html = fragments.render_change(project_id=project.pk, task_ids=[task.pk], column_ids=[], seq=1)
        assert f'href="/projects/{project.pk}/cards/{task.pk}/" aria-haspopup="dialog"' in html["editor"]
        assert "<form" not in html["editor"]
        assert "card-menu" not in html["viewer"]


class TestCardPageMoves:
    """Without JavaScript the ⋯ leads to the card's page: it has the menu's moves."""

    def test_the_card_page_has_the_move_form(self, owner_client, project, columns, dressed):
        task = dressed.first()
        html = owner_client.get(reverse("card", args=[project.pk, task.pk])).content.decode()
        form = html[html.index('class="move-form card-page-move"') - 200 :]
        form = form[: form.index("</form>")]
        assert f'action="{reverse("card_move", args=[project.pk, task.pk])}"' in form
        assert 'name="csrfmiddlewaretoken"' in form
        assert 'value="menu"' in form and 'value="up"' in form and 'value="down"' in form

    def test_the_dialog_does_not(self, owner_client, project, dressed):
        task = dressed.first()
        html = owner_client.get(reverse("card", args=[project.pk, task.pk]), headers=HX).content.decode()
        assert "card-page-move" not in html

    def test_a_move_posted_from_it_moves_the_card(self, owner_client, project, columns, dressed):
        task = dressed.first()
        response = owner_client.post(
            reverse("card_move", args=[project.pk, task.pk]), {"status_id": columns["done"].pk, "via": "menu"}
        )
        assert response.status_code == 303
        task.refresh_from_db()
        assert task.task_status_id == columns["done"].pk
