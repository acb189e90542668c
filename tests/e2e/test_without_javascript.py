"""The board in a Chromium with JavaScript turned off: log in, add a card and move it with the
plain forms (the CSRF token in each form, a 303 back to the board with a message)."""

import pytest
from playwright.sync_api import expect

from boards.models import Membership, Task
from tests.boards.conftest import add_tasks
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(db):
    application = ApplicationFactory(name="Acme")
    user = MembershipFactory(application=application, role=Membership.Role.OWNER).user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    return {"user": user, "project": project, "columns": columns}


def logged_in(browser, live_server, user, *, javascript: bool):
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your projects")
    return context, page


@pytest.fixture
def page(browser, live_server, board):
    context, page = logged_in(browser, live_server, board["user"], javascript=False)
    yield page
    context.close()


def test_create_and_move_a_card_with_plain_forms(page, live_server, board):
    project, todo, done = board["project"], board["columns"]["todo"], board["columns"]["done"]
    page.goto(f"{live_server.url}{project.get_absolute_url()}")

    # The new-card form has one field and no button: Enter submits it, as in any browser.
    page.fill(f"#new-card-{todo.pk}", "Written without JavaScript")
    page.press(f"#new-card-{todo.pk}", "Enter")
    expect(page.locator(".message.shown.ok")).to_have_text("Added “Written without JavaScript”.")
    assert page.url == f"{live_server.url}{project.get_absolute_url()}"
    card = page.locator(f"#column-{todo.pk}-cards .card", has_text="Written without JavaScript")
    expect(card).to_have_count(1)
    expect(page.locator(f"#column-{todo.pk}-count .held")).to_have_text("1")
    task = Task.objects.get(title="Written without JavaScript")

    # The ⋯ is a link to the card's page without script; its move form posts the move.
    card.locator(".card-menu-button").click()
    expect(page).to_have_url(f"{live_server.url}/projects/{project.pk}/cards/{task.pk}/")
    page.locator(".move-form select[name=status_id]").select_option(str(done.pk))
    page.locator(".move-form button", has_text="Move").click()
    expect(page.locator(".message.shown.ok")).to_have_text("Moved “Written without JavaScript” to Done.")
    expect(page.locator(f"#column-{done.pk}-cards .card", has_text="Written without JavaScript")).to_have_count(1)
    expect(page.locator(f"#column-{todo.pk}-cards .card")).to_have_count(0)
    expect(page.locator(f"#column-{done.pk}-count .held")).to_have_text("1")

    # A reload shows the board as stored, and the message only once.
    page.reload()
    expect(page.locator(".message.shown.ok")).to_have_count(0)
    task.refresh_from_db()
    assert task.task_status == done
    assert_counts_exact(project)


@pytest.mark.parametrize("javascript", [False, True], ids=["without-js", "with-js"])
def test_show_more(browser, live_server, board, javascript):
    """A link: without JavaScript it opens the column's next cards as a page; with it, htmx
    appends them to the column in place."""
    project, todo = board["project"], board["columns"]["todo"]
    add_tasks(project, todo, 60)
    context, page = logged_in(browser, live_server, board["user"], javascript=javascript)
    try:
        board_url = f"{live_server.url}{project.get_absolute_url()}"
        page.goto(board_url)
        cards = page.locator(f"#column-{todo.pk}-cards .card")
        expect(cards).to_have_count(50)
        page.locator(f"#column-{todo.pk}-more a", has_text="Show more").click()
        if javascript:
            expect(cards).to_have_count(60)
            assert page.url == board_url
        else:
            expect(page.locator("h1")).to_have_text("Todo: more cards")
            expect(cards).to_have_count(10)
    finally:
        context.close()
