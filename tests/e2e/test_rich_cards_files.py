"""Checklists and attachments in real Chromium: tick an item in the dialog and see the progress on
the card face; upload an image and see its thumbnail (issue 14, items 6 and 7)."""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from boards import services
from boards.models import Membership, Task
from tests.e2e.test_dialog import open_board, open_card
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.live_support import Daphne

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def media_server(tmp_path):
    daphne = Daphne(MEDIA_ROOT=str(tmp_path / "media"))
    try:
        daphne.wait_ready()
        yield daphne
    finally:
        daphne.stop()


@pytest.fixture
def board(transactional_db):
    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ada").user
    project = make_project(application, name="Website", key="WEB")
    todo = project.task_statuses.order_by("position").first()
    task = services.create_task(
        project=project,
        status_id=todo.pk,
        title="Launch",
        reporter=ada,
        description="- [x] draft\n- [ ] review\n- [ ] ship",
    )
    return {"project": project, "task": task, "ada": ada}


def test_tick_a_checklist_item_and_see_progress_on_the_face(board, media_server, browser):
    project, task = board["project"], board["task"]
    errors: list[str] = []
    page = open_board(browser, media_server, board["ada"], project, errors)
    face = page.locator(f"#card-{task.pk}")
    expect(face.locator(".face-checklist")).to_contain_text("1/3")
    dialog = open_card(page, task)
    dialog.locator('[data-checklist-item="1"]').check()
    expect(face.locator(".face-checklist")).to_contain_text("2/3")
    expect(dialog.locator('[data-checklist-item="1"]')).to_be_checked()
    expect(dialog.locator(".card-meta")).to_contain_text(f"version {task.version + 1}")
    assert errors == []


def test_upload_an_image_and_see_its_thumbnail(board, media_server, browser):
    project, task = board["project"], board["task"]
    errors: list[str] = []
    page = open_board(browser, media_server, board["ada"], project, errors)
    dialog = open_card(page, task)
    image = io.BytesIO()
    Image.new("RGB", (300, 200), "orange").save(image, "PNG")
    dialog.locator(f"#attachment-file-{task.pk}").set_input_files(
        files=[{"name": "screenshot.png", "mimeType": "image/png", "buffer": image.getvalue()}]
    )
    dialog.get_by_role("button", name="Upload").click()
    thumbnail = dialog.locator(".attachment-thumb")
    expect(thumbnail).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    expect(page.locator(f"#card-{task.pk} .face-attachments")).to_contain_text("1")
    assert errors == []


def test_without_javascript_the_checklist_and_uploads_are_plain_forms(board, browser, live_server, settings, tmp_path):
    from tests.e2e.test_without_javascript import logged_in

    settings.MEDIA_ROOT = tmp_path / "media"
    task = board["task"]
    context, page = logged_in(browser, live_server, board["ada"], javascript=False)
    try:
        page.goto(f"{live_server.url}{task.get_absolute_url()}")
        page.locator('[data-checklist-item="2"]').check()
        page.get_by_role("button", name="Save checklist").click()
        expect(page.locator(".message.shown.ok")).to_have_text("Checklist saved.")
        expect(page.locator('[data-checklist-item="2"]')).to_be_checked()
        stored = Task.objects.get(pk=task.pk)
        assert (stored.checklist_done, stored.checklist_total) == (2, 3)

        page.locator(f"#attachment-file-{task.pk}").set_input_files(
            files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"plain notes"}]
        )
        page.get_by_role("button", name="Upload").click()
        expect(page.locator(".message.shown.ok")).to_have_text("Attached “notes.txt”.")
        expect(page.locator(".attachment-name")).to_have_text("notes.txt")
    finally:
        context.close()
