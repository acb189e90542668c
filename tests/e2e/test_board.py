"""The board in a real Chromium against a live server: create, drag, reload, keyboard move, archive."""

import re

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Membership, Task
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.helpers import assert_counts_exact
from tests.support.pages import logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(db):
    application = ApplicationFactory(name="Acme")
    membership = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ana")
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    user = membership.user
    titles = {
        "todo": ["Write release notes", "Plan billing export", "Refactor search index"],
        "active": ["Design onboarding email", "Fix login page"],
        "review": ["Measure API rate limits"],
        "issue": ["Backups fail on Sundays"],
        "done": ["Ship dark mode", "Audit log"],
    }
    for category, names in titles.items():
        for name in names:
            services.create_task(
                project=project, status_id=columns[category].pk, title=name, reporter=user, assignee=user, at_top=False
            )
    return {"user": user, "project": project, "columns": columns}


@pytest.fixture
def page(browser, live_server, board):
    with logged_in_page(browser, live_server.url, board["user"]) as page:
        yield page


def held(page, column) -> str:
    return page.locator(f"#column-{column.pk}-count .held").inner_text()


def drag(page, source, target):
    """Mouse down, several moves, mouse up: what SortableJS (fallback mode) listens for."""
    start = source.bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + 20, start["y"] + start["height"] - 8)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + start["height"] - 4, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 6, steps=15)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 10, steps=4)
    page.mouse.up()


def test_card_lifecycle(page, live_server, board):
    project, columns = board["project"], board["columns"]
    todo, active, done = columns["todo"], columns["active"], columns["done"]
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    expect(page.locator(f"#column-{todo.pk}-count .held")).to_have_text("3")
    total = page.locator(f"#project-{project.pk}-progress .cat-total b")
    expect(total).to_have_text("9")

    # Create a card at the top of Todo.
    page.fill(f"#new-card-{todo.pk}", "Try the new board")
    page.press(f"#new-card-{todo.pk}", "Enter")
    new_card = page.locator(f"#column-{todo.pk}-cards .card").first
    expect(new_card.locator(".card-title")).to_have_text("Try the new board")
    expect(page.locator(f"#column-{todo.pk}-count .held")).to_have_text("4")
    expect(total).to_have_text("10")
    expect(page.locator(f"#new-card-{todo.pk}")).to_have_value("")
    task = Task.objects.get(title="Try the new board")

    # Drag it between the two cards of In Progress.
    card = page.locator(f"#card-{task.pk}")
    second = page.locator(f"#column-{active.pk}-cards .card").nth(1)
    with page.expect_response(lambda r: r.url.endswith(f"/cards/{task.pk}/move/")) as response:
        drag(page, card, second)
    assert response.value.status == 200
    expect(page.locator(f"#column-{active.pk}-count .held")).to_have_text("3")
    expect(page.locator(f"#column-{todo.pk}-count .held")).to_have_text("3")
    expect(page.locator(f"#project-{project.pk}-progress .cat-active b")).to_have_text("3")
    active_titles = ["Design onboarding email", "Try the new board", "Fix login page"]
    expect(page.locator(f"#column-{active.pk}-cards .card-title")).to_have_text(active_titles)

    # Reload: the order is stored.
    page.reload()
    expect(page.locator(f"#column-{active.pk}-cards .card-title")).to_have_text(active_titles)
    expect(page.locator(f"#column-{active.pk}-count .held")).to_have_text("3")

    # Keyboard only: open the card's menu (the board's one menu, at the card), pick Done, press
    # Move; then move it down.
    button = page.locator(f"#card-{task.pk} .card-menu-button")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#card-menu select[name=status_id]")).to_be_focused()
    page.locator("#card-menu select[name=status_id]").select_option(label="Done")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(f"#column-{done.pk}-cards .card").first).to_have_id(f"card-{task.pk}")
    expect(page.locator(f"#column-{done.pk}-count .held")).to_have_text("3")
    expect(page.locator(f"#column-{active.pk}-count .held")).to_have_text("2")
    expect(page.locator(f"#card-{task.pk} .card-menu-button")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#card-menu button[value=down]").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#column-{done.pk}-cards .card").nth(1)).to_have_id(f"card-{task.pk}")

    # Archive from the menu, then undo from the message.
    page.locator(f"#card-{task.pk} .card-menu-button").click()
    page.locator("#card-menu").get_by_role("button", name="Archive").click()
    expect(page.locator(f"#card-{task.pk}")).to_have_count(0)
    expect(page.locator(f"#column-{done.pk}-count .held")).to_have_text("2")
    expect(total).to_have_text("9")
    expect(page.locator("#board-messages")).to_contain_text("Archived “Try the new board”")
    page.locator("#board-messages").get_by_role("button", name="Undo").click()
    # Back where it was (second in Done), not at the bottom.
    expect(page.locator(f"#column-{done.pk}-cards .card").nth(1)).to_have_id(f"card-{task.pk}")
    expect(page.locator(f"#column-{done.pk}-count .held")).to_have_text("3")
    expect(total).to_have_text("10")

    # Archive from the card dialog; unarchive from the Archived view.
    page.locator(f"#card-{task.pk} .card-title a").click()
    dialog = page.locator("#card-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Archive").click()
    expect(dialog).to_contain_text("archived")
    expect(page.locator(f"#card-{task.pk}")).to_have_count(0)
    page.keyboard.press("Escape")
    page.get_by_role("link", name="Archived").click()
    row = page.locator(f"#archived-{task.pk}")
    expect(row).to_contain_text("Try the new board")
    row.get_by_role("button", name="Unarchive").click()
    expect(row).to_have_count(0)
    task.refresh_from_db()
    assert task.archived_at is None and task.task_status_id == done.pk
    assert_counts_exact(project)


def test_hard_limit_refusal_puts_the_card_back(page, live_server, board):
    project, columns = board["project"], board["columns"]
    review = columns["review"]
    services.update_column(
        project=project, status_id=review.pk, name="In Review", category="review", wip_limit=1, wip_hard=True
    )
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    card = page.locator(f"#column-{columns['todo'].pk}-cards .card").first
    card_id = card.get_attribute("id")
    with page.expect_response(lambda r: "/move/" in r.url) as response:
        drag(page, card, page.locator(f"#column-{review.pk}-cards .card").first)
    assert response.value.status == 409
    expect(page.locator("#board-messages")).to_contain_text("is full")
    expect(page.locator(f"#column-{columns['todo'].pk}-cards #{card_id}")).to_have_count(1)
    expect(page.locator(f"#column-{review.pk}-count .held")).to_have_text("1")

    # A card deleted by someone else while it is on this page: the drag is refused and it leaves.
    gone = Task.objects.get(title="Audit log")
    services.delete_task(project=project, task_id=gone.pk)
    with page.expect_response(lambda r: "/move/" in r.url) as response:
        drag(page, page.locator(f"#card-{gone.pk}"), page.locator(f"#column-{columns['todo'].pk}-cards .card").first)
    assert response.value.status == 404
    expect(page.locator("#board-messages")).to_contain_text("no longer exists")
    expect(page.locator(f"#card-{gone.pk}")).to_have_count(0)
    assert_counts_exact(project)


def test_filter_updates_url_and_screenshot(page, live_server, board, screenshot_path):
    project, columns = board["project"], board["columns"]
    bo = MembershipFactory(application=project.application, user__first_name="Bo").user
    for n in range(6):
        services.create_task(
            project=project,
            status_id=columns["active"].pk,
            title=f"Polish card layout {n}",
            reporter=board["user"],
            assignee=bo if n % 2 else None,
        )
    active = columns["active"]
    services.update_column(project=project, status_id=active.pk, name=active.name, category="active", wip_limit=6)
    review = columns["review"]
    services.update_column(
        project=project, status_id=review.pk, name=review.name, category="review", wip_limit=3, wip_hard=True
    )
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    page.screenshot(path=str(screenshot_path("board.png")), caret="initial")  # "hide" injects a style: CSP noise
    page.fill("#filter-q", "polish")
    expect(page).to_have_url(re.compile(r"\?q=polish"))
    expect(page.locator(f"#column-{columns['active'].pk}-count .matching")).to_have_text("6 match")
    expect(page.locator(".card")).to_have_count(6)
    page.reload()
    expect(page.locator(".card")).to_have_count(6)
    expect(page.locator("#filter-q")).to_have_value("polish")


def test_stale_edit_and_confirmed_delete(page, live_server, board):
    project, columns = board["project"], board["columns"]
    task = Task.objects.get(title="Fix login page")
    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    page.locator(f"#card-{task.pk} .card-title a").click()
    dialog = page.locator("#card-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("link", name="Edit").click()
    # The editor has opened when it has put the keyboard in its title, as a user sees it.
    expect(dialog.locator("input[name=title]")).to_be_focused()
    # Someone else saves first.
    services.update_task(project=project, task_id=task.pk, version=task.version, title="Fix the login page")
    dialog.locator("textarea[name=description]").fill("My careful notes")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_contain_text("Someone else changed this card")
    expect(dialog.locator("textarea[name=description]")).to_have_value("My careful notes")
    expect(dialog.locator(".conflict")).to_contain_text("Fix the login page")
    task.refresh_from_db()
    assert (task.title, task.description) == ("Fix the login page", "")
    page.keyboard.press("Escape")

    # Delete from the Archived view asks first; dismissing keeps the card.
    services.archive_task(project=project, task_id=task.pk)
    page.goto(f"{live_server.url}/projects/{project.pk}/archived/")
    row = page.locator(f"#archived-{task.pk}")
    page.once("dialog", lambda d: d.dismiss())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(1)
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    assert not Task.objects.filter(pk=task.pk).exists()
    assert_counts_exact(project)
    assert columns["active"].tasks.count() == 1
