"""The board on a phone (issue 16, item 13) in Chromium at 390x844 with touch: one column per
screen under a sticky tab bar whose counts follow live moves, long-press for a card's move menu,
and a full-screen card dialog. The desktop layout does not show any of it."""

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Membership
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.live_support import Browserless, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


@pytest.fixture
def board(transactional_db):
    """Made before the browser starts: ORM calls inside Playwright's loop would open extra connections."""
    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ada").user
    bob = MembershipFactory(application=application, role=Membership.Role.EDITOR, user__first_name="Bob").user
    project = make_project(application, name="Website", key="WEB")
    columns = list(project.task_statuses.order_by("position"))
    first, last = columns[0], columns[-1]
    cards = [
        services.create_task(project=project, status_id=first.pk, title=title, reporter=ada)
        for title in ("Write release notes", "Plan billing export")
    ]
    services.create_task(project=project, status_id=last.pk, title="Ship dark mode", reporter=ada)
    return {
        "project": project,
        "columns": [column.pk for column in columns],
        "names": [column.name for column in columns],
        "cards": [card.pk for card in cards],
        "ada": session_cookie(ada),
        "bob": session_cookie(bob),
    }


def open_board(browser, server, board, errors, **context_options):
    context = browser.new_context(**(context_options or PHONE))
    context.add_cookies([{"name": "sessionid", "value": board["ada"], "url": server.url}])
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server.url}/projects/{board['project'].pk}/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    return page


def tab(page, column_id):
    return page.locator(f'#column-tabs .column-tab[data-column="column-{column_id}"]')


def visible_share(page, column_id) -> float:
    """How much of the column's width shows in the viewport, 0 to 1."""
    return page.evaluate(
        """id => { const box = document.getElementById(id).getBoundingClientRect();
                   const shown = Math.min(box.right, innerWidth) - Math.max(box.left, 0);
                   return Math.max(0, shown) / box.width; }""",
        f"column-{column_id}",
    )


def long_press(page, locator, hold_ms=700):
    """A real touch held in place (DevTools protocol): Playwright's touchscreen only taps."""
    box = locator.bounding_box()
    point = {"x": box["x"] + box["width"] / 3, "y": box["y"] + box["height"] / 2}
    session = page.context.new_cdp_session(page)
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    page.wait_for_timeout(hold_ms)
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def test_one_column_per_screen_with_tabs(browser, server, board, screenshot_path):
    errors: list[str] = []
    page = open_board(browser, server, board, errors)
    columns = board["columns"]

    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways panning
    tabs = page.locator("#column-tabs .column-tab")
    expect(tabs).to_have_count(len(columns))
    expect(tab(page, columns[0])).to_contain_text(board["names"][0])
    expect(tab(page, columns[0]).locator(".tab-count")).to_have_text("2")
    expect(tab(page, columns[-1]).locator(".tab-count")).to_have_text("1")
    expect(tab(page, columns[0])).to_have_attribute("aria-current", "true")

    # One column fills the strip, which is the viewport less the page's padding.
    strip = page.locator("#board-columns").bounding_box()
    first = page.locator(f"#column-{columns[0]}").bounding_box()
    assert strip["width"] >= 390 - 24
    assert abs(first["width"] - strip["width"]) <= 6
    assert visible_share(page, columns[0]) == 1
    assert visible_share(page, columns[1]) == 0

    # Tapping a tab shows that column and highlights its tab.
    target = columns[2]
    tab(page, target).tap()
    expect(tab(page, target)).to_have_attribute("aria-current", "true")
    expect(tab(page, columns[0])).not_to_have_attribute("aria-current", "true")
    page.wait_for_function(
        """id => { const box = document.getElementById(id).getBoundingClientRect();
                   return box.left >= 0 && box.right <= innerWidth; }""",
        arg=f"column-{target}",
    )
    assert visible_share(page, target) == 1
    page.wait_for_timeout(300)  # the strip's snap settles before the picture
    expect(tab(page, target)).to_have_attribute("aria-current", "true")  # the observer agrees once it settles

    # A swipe (scroll of the strip) moves the highlight too.
    page.locator("#board-columns").evaluate("strip => strip.scrollTo({left: 0})")
    expect(tab(page, columns[0])).to_have_attribute("aria-current", "true")

    # The tab bar stays at the top while the page scrolls.
    assert page.locator("#column-tabs").evaluate("nav => getComputedStyle(nav).position") == "sticky"
    path = screenshot_path("screenshots/board-phone-tabs.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path)
    assert errors == []


def test_tab_count_follows_another_users_move(browser, server, board):
    errors: list[str] = []
    page = open_board(browser, server, board, errors)
    todo, done, card = board["columns"][0], board["columns"][-1], board["cards"][0]
    expect(tab(page, done).locator(".tab-count")).to_have_text("1")

    bob = Browserless(server.url, board["bob"])
    assert bob.request(f"/projects/{board['project'].pk}/")[0] == 200  # the CSRF cookie
    status, _ = bob.request(
        f"/projects/{board['project'].pk}/cards/{card}/move/", {"status_id": done}, headers={"HX-Request": "true"}
    )
    assert status == 200

    expect(page.locator(f"#column-{done}-cards #card-{card}")).to_have_count(1)
    expect(tab(page, done).locator(".tab-count")).to_have_text("2")
    expect(tab(page, todo).locator(".tab-count")).to_have_text("1")
    assert errors == []


def test_long_press_opens_the_move_menu_and_moves(browser, server, board):
    errors: list[str] = []
    page = open_board(browser, server, board, errors)
    todo, done, card_id = board["columns"][0], board["columns"][-1], board["cards"][1]
    card = page.locator(f"#card-{card_id}")

    # A press held on the title opens the menu, not the card.
    long_press(page, card.locator(".card-title"), hold_ms=700)
    menu = page.locator("#card-menu")
    expect(menu).to_be_visible()
    expect(card.locator(".card-menu-button")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#card-dialog")).not_to_have_attribute("open", "")

    menu.locator(".move-form select").select_option(str(done))
    menu.get_by_role("button", name="Move", exact=True).tap()
    expect(page.locator(f"#column-{done}-cards #card-{card_id}")).to_have_count(1)
    expect(tab(page, done).locator(".tab-count")).to_have_text("2")
    expect(tab(page, todo).locator(".tab-count")).to_have_text("1")

    # A press released early is a tap: no menu.
    other = page.locator(f"#card-{board['cards'][0]}")
    long_press(page, other.locator(".card-meta"), hold_ms=150)
    page.wait_for_timeout(600)
    expect(other.locator(".card-menu-button")).not_to_have_attribute("aria-expanded", "true")
    assert errors == []


def test_card_dialog_is_full_screen(browser, server, board, screenshot_path):
    errors: list[str] = []
    page = open_board(browser, server, board, errors)
    page.locator(f"#card-{board['cards'][0]} .card-title a").tap()
    dialog = page.locator("#card-dialog")
    expect(dialog).to_have_attribute("open", "")
    expect(dialog.locator(".card-detail")).to_be_visible()
    box = dialog.bounding_box()
    assert (box["x"], box["y"]) == (0, 0)
    assert (round(box["width"]), round(box["height"])) == (390, 844)
    path = screenshot_path("screenshots/card-dialog-phone.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path)
    assert errors == []


def test_desktop_shows_no_tabs_and_keeps_its_columns(browser, server, board):
    errors: list[str] = []
    page = open_board(browser, server, board, errors, viewport={"width": 1440, "height": 900})
    expect(page.locator("#column-tabs")).to_be_hidden()
    strip = page.locator("#board-columns")
    assert strip.evaluate("s => getComputedStyle(s).scrollSnapType") == "x"  # "x proximity", not mandatory
    # Several columns side by side, as before; the dialog is a centred box, not the whole screen.
    assert visible_share(page, board["columns"][1]) == 1
    page.locator(f"#card-{board['cards'][0]} .card-title a").click()
    expect(page.locator("#card-dialog .card-detail")).to_be_visible()
    box = page.locator("#card-dialog").bounding_box()
    assert box["width"] <= 680 and box["x"] > 0
    assert errors == []
