"""Show all in a real Chromium: the rest of a column streams in, and its cards drag and take the keyboard."""

import pytest
from playwright.sync_api import expect

from boards.models import Membership, Task
from boards.web import column_all
from tests.boards.conftest import add_tasks
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.pages import logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(db):
    application = ApplicationFactory(name="Acme")
    membership = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ana")
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    add_tasks(project, columns["todo"], 140, title="Streamed")
    add_tasks(project, columns["done"], 3, title="Done")
    return {"user": membership.user, "project": project, "columns": columns}


@pytest.fixture
def page(browser, live_server, board):
    with logged_in_page(browser, live_server.url, board["user"]) as page:
        yield page


def column_order(column) -> list[str]:
    ids = Task.objects.live().filter(task_status=column).order_by("position", "pk").values_list("pk", flat=True)
    return [f"card-{pk}" for pk in ids]


def dom_order(page, column) -> list[str]:
    return page.eval_on_selector_all(f"#column-{column.pk}-cards > .card", "cards => cards.map(c => c.id)")


def test_show_all_streams_the_column_and_its_cards_drag(page, live_server, board, monkeypatch):
    monkeypatch.setattr(column_all, "CHUNK", 40)  # several chunks
    project, todo = board["project"], board["columns"]["todo"]
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    cards = page.locator(f"#column-{todo.pk}-cards > .card")
    expect(cards).to_have_count(50)
    page.get_by_role("link", name="Show all 140").click()
    expect(cards).to_have_count(140)
    expect(page.locator(f"#column-{todo.pk}-more")).to_be_empty()
    assert dom_order(page, todo) == column_order(todo)

    # The keyboard's roving list took the streamed cards in: one tab stop, arrows walk on.
    assert cards.nth(120).get_attribute("tabindex") == "-1"
    cards.nth(120).focus()
    page.keyboard.press("j")
    expect(cards.nth(121)).to_be_focused()

    # Drag a streamed card above another streamed one: the server stores the order the page shows.
    moved, target = cards.nth(104), cards.nth(100)
    moved_id = moved.get_attribute("id")
    target.scroll_into_view_if_needed()
    start, end = moved.bounding_box(), target.bounding_box()
    assert start["y"] + start["height"] < 900, "both cards on screen"
    page.mouse.move(start["x"] + 20, start["y"] + start["height"] - 8)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + start["height"] - 4, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 6, steps=15)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 10, steps=4)
    page.mouse.up()
    expect(page.locator(f"#{moved_id}.saving")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    shown = dom_order(page, todo)
    assert shown.index(moved_id) == 100
    assert shown == column_order(todo)


def test_without_javascript_show_all_is_the_whole_column_as_a_page(browser, live_server, board):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", board["user"].username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    todo = board["columns"]["todo"]
    page.goto(f"{live_server.url}/projects/{board['project'].pk}/")
    page.get_by_role("link", name="Show all 140").click()
    expect(page.locator("h1")).to_have_text("Todo: every card")
    # The page is streamed: its head shows before its last card has come.
    expect(page.locator(f"#column-{todo.pk}-cards > .card")).to_have_count(140)
    assert dom_order(page, todo) == column_order(todo)
    context.close()


@pytest.mark.timeout(180)
def test_the_live_push_moves_a_streamed_card(transactional_db, server, browser):
    """Served by daphne (the stream as an async iterator, the socket live): another member moves a
    card that came with Show all, and this page shows it leave the column and arrive in Done."""
    from boards import live, services
    from tests.support.live_support import session_cookie

    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ada").user
    bob = MembershipFactory(application=application, role=Membership.Role.EDITOR, user__first_name="Bob").user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    todo, done = columns["todo"], columns["done"]
    add_tasks(project, todo, 80, title="Streamed")
    streamed = Task.objects.filter(task_status=todo).order_by("position", "pk")[70]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": session_cookie(ada), "url": server.url}])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/projects/{project.pk}/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    page.get_by_role("link", name="Show all 80").click()
    expect(page.locator(f"#column-{todo.pk}-cards > .card")).to_have_count(80)

    services.move_task(project=project, task_id=streamed.pk, status_id=done.pk, actor=bob)
    live.flush()
    expect(page.locator(f"#column-{done.pk}-cards #card-{streamed.pk}")).to_have_count(1)
    expect(page.locator(f"#column-{todo.pk}-cards > .card")).to_have_count(79)
    expect(page.locator(f"#column-{todo.pk}-count .held")).to_have_text("79")
    context.close()
    assert errors == []
