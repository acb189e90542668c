"""Finding cards in Chromium: the top bar's search by key and by a word from a comment, the card
dialog's permanent link in the address bar (Back closes the dialog), and moving a card away."""

import re

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Membership, Task
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.pages import logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def cards(db):
    application = ApplicationFactory(name="Acme")
    user = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ana").user
    project = make_project(application, name="Website", key="WEB")
    ops = make_project(application, name="Operations", key="OPS")
    todo = project.task_statuses.get(category="todo")
    made = [
        services.create_task(project=project, status_id=todo.pk, title=title, reporter=user)
        for title in ("Write release notes", "Fix login page", "Plan billing export")
    ]
    services.add_comment(
        project=project, task_id=made[2].pk, body="The export times out behind the zanzibar proxy.", author=user
    )
    return {"user": user, "project": project, "ops": ops, "tasks": made}


@pytest.fixture
def page(browser, live_server, cards):
    with logged_in_page(browser, live_server.url, cards["user"], viewport={"width": 1280, "height": 900}) as page:
        yield page


def search(page, text):
    box = page.locator("#topbar-search-q")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("h1")).to_have_text("Search")


def test_find_a_card_by_key_and_open_it(page, cards):
    task = cards["tasks"][1]
    search(page, f"web-{task.number}")
    first = page.locator(".search-hit").first
    expect(first).to_contain_text(f"WEB-{task.number}")
    expect(first).to_contain_text("Fix login page")
    first.locator("a.search-hit-title").click()
    expect(page.locator("#card-dialog-title")).to_have_text("Fix login page")


def test_find_a_card_by_a_word_from_a_comment_and_open_it(page, cards, screenshot_path):
    search(page, "zanzibar")
    hits = page.locator(".search-hit")
    expect(hits).to_have_count(1)
    page.screenshot(path=str(screenshot_path("search.png")), caret="initial")
    expect(hits.first.locator("mark")).to_have_text("zanzibar")
    expect(hits.first).to_contain_text("In a comment:")
    hits.first.locator("a.search-hit-title").click()
    expect(page.locator("#card-dialog-title")).to_have_text("Plan billing export")


def test_the_permanent_url_opens_the_card(page, live_server, cards):
    task = cards["tasks"][0]
    page.goto(f"{live_server.url}/web-{task.number}/")
    expect(page).to_have_url(re.compile(rf"/projects/{cards['project'].pk}/cards/{task.pk}/$"))
    expect(page.locator("#card-dialog-title")).to_have_text(task.title)


def test_the_dialog_puts_the_cards_link_in_the_address_bar(page, live_server, cards):
    project, task = cards["project"], cards["tasks"][1]
    board_url = f"{live_server.url}{project.get_absolute_url()}?q=login"
    page.goto(board_url)
    page.locator(f"#card-{task.pk} .card-title a").click()
    dialog = page.locator("#card-dialog")
    expect(dialog.locator(f"#card-{task.pk}-detail")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/WEB-{task.number}/")
    expect(dialog.locator("[data-copy-link]")).to_be_visible()
    # Closing gives the board its address back, filter included.
    dialog.locator("button[aria-label=Close]").click()
    expect(dialog).not_to_be_visible()
    expect(page).to_have_url(board_url)
    # Back closes the dialog.
    page.locator(f"#card-{task.pk} .card-title a").click()
    expect(page).to_have_url(f"{live_server.url}/WEB-{task.number}/")
    page.go_back()
    expect(dialog).not_to_be_visible()
    expect(page).to_have_url(board_url)
    expect(page.locator(f"#card-{task.pk}")).to_be_visible()


def test_move_a_card_to_another_project_from_its_dialog(page, live_server, cards):
    project, ops, task = cards["project"], cards["ops"], cards["tasks"][0]
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    page.locator(f"#card-{task.pk} .card-title a").click()
    dialog = page.locator("#card-dialog")
    dialog.locator(".card-transfer summary").click()
    dialog.locator("select[name=project]").select_option(str(ops.pk))
    dialog.get_by_role("button", name="Move card").click()
    expect(dialog.locator("#card-dialog-key")).to_contain_text("OPS-")
    moved = Task.objects.get(pk=task.pk)
    expect(dialog.locator("#card-dialog-key")).to_have_text(f"OPS-{moved.number}")
    expect(page).to_have_url(f"{live_server.url}/OPS-{moved.number}/")
    expect(page.locator(f"#board #card-{task.pk}")).to_have_count(0)
    assert moved.project_id == ops.pk
