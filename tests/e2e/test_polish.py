"""Rough edges of the board in Chromium: the phone width, messages, card menus (issue 16)."""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from boards import live, services
from boards.demo import PLAYED_CARDS, seed_demo
from boards.models import Membership, Project
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.live_support import session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def board(db):
    application = ApplicationFactory(name="Acme")
    user = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ana").user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    for category, count in {"todo": 4, "active": 2, "review": 1, "issue": 1, "done": 2}.items():
        for n in range(count):
            services.create_task(
                project=project,
                status_id=columns[category].pk,
                title=f"{category.title()} card {n + 1}",
                reporter=user,
                assignee=user,
                at_top=False,
            )
    return {"user": user, "project": project, "columns": columns}


@pytest.fixture
def open_page(browser, live_server, board):
    """A logged-in page at the given viewport; the test fails on any page error."""
    contexts, errors = [], []

    def open_page(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", board["user"].username)
        page.fill("input[name=password]", "secret-pass")
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Your projects")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []


def page_width(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


class TestPhoneWidth:
    def test_the_board_fits_a_phone_and_a_desktop(self, open_page, live_server, board, screenshot_path):
        project = board["project"]
        phone = open_page(PHONE)
        phone.goto(f"{live_server.url}{project.get_absolute_url()}")
        expect(phone.locator(".card")).to_have_count(10)
        assert page_width(phone) <= PHONE["width"]
        assert "{#" not in phone.locator("main").inner_text()  # no template comment shows as text
        # The columns scroll inside their own strip instead.
        columns = phone.locator("#board-columns")
        assert columns.evaluate("el => el.scrollWidth > el.clientWidth")
        phone.screenshot(path=str(screenshot_path("board-390x844.png")), caret="initial")

        desktop = open_page(DESKTOP)
        desktop.goto(f"{live_server.url}{project.get_absolute_url()}")
        expect(desktop.locator(".card")).to_have_count(10)
        assert page_width(desktop) <= DESKTOP["width"]
        desktop.screenshot(path=str(screenshot_path("board-1440x900.png")), caret="initial")


def open_menu(card):
    """The board's one card menu, opened with this card's ⋯."""
    card.locator(".card-menu-button").click()
    menu = card.page.locator("#card-menu")
    expect(menu).to_be_visible()
    return menu


def on_top(page, locator) -> bool:
    """Whether the middle of the element is what the user sees there (nothing covers it)."""
    box = locator.bounding_box()
    return page.evaluate(
        "([x, y, sel]) => !!document.elementFromPoint(x, y).closest(sel)",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] - 6, "#card-menu"],
    )


def inside_viewport(box, viewport) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
        and box["y"] + box["height"] <= viewport["height"]
    )


class TestCardMenus:
    def test_one_menu_for_the_board_escape_and_outside_click_close(self, open_page, live_server, board):
        page = open_page(DESKTOP)
        page.goto(f"{live_server.url}{board['project'].get_absolute_url()}")
        cards = page.locator(f"#column-{board['columns']['todo'].pk}-cards .card")
        first, second = cards.nth(0), cards.nth(1)
        # One menu on the page, whatever the number of cards; none inside a card.
        expect(page.locator("#card-menu")).to_have_count(1)
        expect(page.locator(".card form")).to_have_count(0)

        # Opened for one card, then for another: it moves to the other, named for it. (The open
        # menu covers the card below it, so the lower one first, then the upper.)
        menu = open_menu(second)
        expect(menu.locator("#card-menu-title")).to_contain_text("Todo card 2")
        menu = open_menu(first)
        expect(menu.locator("#card-menu-title")).to_contain_text("Todo card 1")
        second.locator(".card-menu-button").focus()  # under the open menu: by keyboard
        page.keyboard.press("Enter")
        expect(menu.locator("#card-menu-title")).to_contain_text("Todo card 2")
        expect(first.locator(".card-menu-button")).not_to_have_attribute("aria-expanded", "true")
        expect(second.locator(".card-menu-button")).to_have_attribute("aria-expanded", "true")
        expect(menu.locator("select[name=status_id]")).to_be_focused()
        # The menu lies over the next card, visibly on top of it, and inside the window.
        assert menu.bounding_box()["y"] + menu.bounding_box()["height"] > cards.nth(2).bounding_box()["y"]
        assert on_top(page, menu)
        assert inside_viewport(menu.bounding_box(), DESKTOP)

        # Escape closes it and gives the focus back to its button.
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()
        expect(second.locator(".card-menu-button")).to_be_focused()

        # A click inside keeps it open; a click elsewhere closes it.
        open_menu(first)
        menu.locator(".move-form label").first.click()
        expect(menu).to_be_visible()
        page.locator("h1").click()
        expect(menu).to_be_hidden()

        # The menu works for the card it was opened at: a move from it.
        open_menu(first)
        menu.locator("select[name=status_id]").select_option(label="Done")
        menu.get_by_role("button", name="Move", exact=True).click()
        expect(page.locator(f"#column-{board['columns']['done'].pk}-count .held")).to_have_text("3")
        expect(page.locator(f"#column-{board['columns']['done'].pk}-cards .card").first).to_contain_text("Todo card 1")
        expect(
            page.locator(f"#column-{board['columns']['done'].pk}-cards .card").first.locator(".card-menu-button")
        ).to_be_focused()

    def test_a_menu_near_the_bottom_opens_upwards_inside_the_phone_screen(self, open_page, live_server, board):
        page = open_page(PHONE)
        page.goto(f"{live_server.url}{board['project'].get_absolute_url()}")
        last = page.locator(f"#column-{board['columns']['todo'].pk}-cards .card").last
        last.scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
        menu = open_menu(last)
        assert inside_viewport(menu.bounding_box(), PHONE)
        assert on_top(page, menu)
        assert page_width(page) <= PHONE["width"]


class TestMessages:
    def _full_review(self, board):
        review = board["columns"]["review"]
        services.update_column(
            project=board["project"],
            status_id=review.pk,
            name=review.name,
            category="review",
            wip_limit=1,
            wip_hard=True,
        )
        return review

    def test_errors_stay_until_closed_or_a_later_success_and_successes_fade(self, open_page, live_server, board):
        review = self._full_review(board)
        page = open_page(DESKTOP)
        page.clock.install()
        page.goto(f"{live_server.url}{board['project'].get_absolute_url()}")

        # A refused card: the error stays, however long one waits, with a button to close it.
        page.fill(f"#new-card-{review.pk}", "One too many")
        page.press(f"#new-card-{review.pk}", "Enter")
        error = page.locator(f"#column-{review.pk}-message")
        expect(error).to_contain_text("is full")
        expect(error).to_have_class("message shown error")
        page.clock.run_for(30_000)
        expect(error).to_be_visible()
        error.get_by_role("button", name="Dismiss message").click()
        expect(error).to_be_hidden()

        # Refused again (what was typed is kept), then a card archived elsewhere: the success
        # replaces the stale error.
        expect(page.locator(f"#new-card-{review.pk}")).to_have_value("One too many")
        page.press(f"#new-card-{review.pk}", "Enter")
        expect(error).to_contain_text("is full")
        card = page.locator(f"#column-{board['columns']['todo'].pk}-cards .card").first
        open_menu(card).get_by_role("button", name="Archive").click()
        success = page.locator("#board-messages")
        expect(success).to_contain_text("Archived “Todo card 1”")
        expect(success).to_have_class("message shown ok")
        expect(error).to_be_hidden()

        # The success (it has an Undo) fades by itself after a while.
        page.clock.run_for(3_000)
        expect(success).to_be_visible()
        page.clock.run_for(20_000)
        expect(success).to_be_hidden()

    def test_a_success_closes_with_its_button_and_a_flash_message_too(self, open_page, live_server, board):
        page = open_page(DESKTOP)
        page.goto(f"{live_server.url}{board['project'].get_absolute_url()}")
        card = page.locator(f"#column-{board['columns']['todo'].pk}-cards .card").first
        open_menu(card).get_by_role("button", name="Archive").click()
        success = page.locator("#board-messages")
        expect(success).to_contain_text("Archived")
        success.get_by_role("button", name="Dismiss message").click()
        expect(success).to_be_hidden()

        # A page's flash message (after a plain POST) closes the same way.
        page.goto(f"{live_server.url}/")
        page.locator(f"#project-{board['project'].pk}-rename summary").click()
        page.fill(f"#rename-{board['project'].pk}", "Web shop")
        with page.expect_navigation():  # a plain POST, as without JavaScript: form.submit() bypasses htmx
            page.evaluate(f"document.querySelector('#project-{board['project'].pk}-rename form').submit()")
        flash = page.locator(".flash .message")
        expect(flash).to_have_text("Renamed the project to “Web shop”.")
        flash.get_by_role("button", name="Dismiss message").click()
        expect(page.locator(".flash")).to_have_count(0)


class TestHomeRename:
    def test_closes_with_a_confirmation_and_no_gap_in_the_row(self, open_page, live_server, board):
        for name, key in (("Mobile", "MOB"), ("Operations", "OPS")):
            make_project(board["project"].application, name=name, key=key)
        page = open_page(DESKTOP)
        project = board["project"]
        tile = page.locator(".project-tile").filter(has=page.locator(f"#project-{project.pk}-rename"))
        height = tile.bounding_box()["height"]
        page.locator(f"#project-{project.pk}-rename summary").click()
        page.fill(f"#rename-{project.pk}", "Web shop")
        page.keyboard.press("Enter")
        expect(page.locator(f"#project-{project.pk}-name")).to_contain_text("Web shop")
        expect(page.locator(f"#application-{project.application_id}-message")).to_contain_text(
            "Renamed the project to “Web shop”."
        )
        expect(page.locator(f"#project-{project.pk}-rename")).not_to_have_attribute("open", "")
        assert tile.bounding_box()["height"] == height
        heights = {round(box["height"]) for box in (t.bounding_box() for t in page.locator(".project-tile").all())}
        assert len(heights) == 1


CONTRAST = """el => {
    const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = c => {
        const [r, g, b] = rgb(c).map(v => v / 255).map(v => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const style = getComputedStyle(el);
    const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""


class TestPresence:
    """Served by daphne: the board's socket fills the presence row."""

    def test_presence_sits_in_the_board_header_with_readable_bubbles(self, browser, board, server, screenshot_path):
        project = board["project"]
        bo = MembershipFactory(application=project.application, user__first_name="Bo", user__last_name="Ek").user
        errors: list[str] = []
        pages = []
        for user in (board["user"], bo):
            context = browser.new_context(viewport=DESKTOP)
            context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": server.url}])
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}{project.get_absolute_url()}")
            pages.append(page)
        mine = pages[0]
        bubbles = mine.locator(f".board-head .board-title #presence-{project.pk} li")
        expect(bubbles).to_have_count(2)
        expect(mine.locator("#live")).to_have_attribute("data-state", "live")
        # On the title's line, not a row of its own above it.
        title, row = (
            mine.locator(".board-title h1").bounding_box(),
            mine.locator(f"#presence-{project.pk}").bounding_box(),
        )
        assert row["y"] < title["y"] + title["height"] and title["y"] < row["y"] + row["height"]
        assert mine.locator(".board-head").bounding_box()["y"] < 120  # right under the top bar
        for bubble in bubbles.all():
            assert bubble.evaluate(CONTRAST) >= 4.5
        mine.screenshot(path=str(screenshot_path("board-presence-1440x900.png")), caret="initial")

        # A resync replaces the board: who is here stays.
        seq = int(mine.locator("#live").get_attribute("data-seq"))
        mine.evaluate(
            "() => document.body.addEventListener('live:resynced', () => { document.body.dataset.resynced = 'y'; })"
        )
        live.publish(
            project.pk,
            f'<div id="live-meta" hx-swap-oob="true" data-kind="change" data-seq="{seq + 5}"></div>',
            seq=seq + 5,
        )
        assert live.flush()
        expect(mine.locator("body")).to_have_attribute("data-resynced", "y")
        expect(bubbles).to_have_count(2)

        # The socket's state, when shown, is readable and takes no room on the page.
        mine.locator("#live").evaluate("el => { el.dataset.state = 'reconnecting'; }")
        mine.locator(".live-state").evaluate("el => { el.textContent = 'Reconnecting…'; }")
        assert mine.locator(".live-state").evaluate(CONTRAST) >= 4.5
        assert mine.locator("#live").evaluate("el => getComputedStyle(el).position") == "fixed"
        for page in pages:
            page.context.close()
        assert errors == []


class TestDemoInsights:
    def test_the_seeded_demo_tells_a_story_on_every_chart(self, browser, live_server, screenshot_path):
        seed_demo(projects=1, tasks=PLAYED_CARDS)
        project = Project.objects.get(key="WEB")
        call_command("recalc_aggregates", "--check", stdout=StringIO())  # raises when a count drifted
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/projects/{project.pk}/insights/?days=90")
        # Flow in every band, done cards with lead and cycle times, throughput in most weeks.
        expect(page.locator("#cfd polygon.area")).to_have_count(5)
        lead = int(page.locator("#lead .stat").inner_text().split()[0])
        cycle = int(page.locator("#cycle .stat").inner_text().split()[0])
        assert lead > 30 and cycle > 30
        heights = [float(bar.get_attribute("height")) for bar in page.locator("#throughput rect.bar").all()]
        assert len(heights) >= 12 and sum(1 for h in heights if h > 0) >= len(heights) - 3
        assert max(heights) < 4 * (sum(heights) / len(heights))  # no spike at the right edge
        page.screenshot(path=str(screenshot_path("insights-demo-1440x900.png")), full_page=True, caret="initial")
        context.close()
