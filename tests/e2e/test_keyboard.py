"""The board and the Columns page by keyboard in Chromium (issue 16, items 7 and 10): one tab stop
per column, j/k and arrows between cards, Shift+arrows move a card with one request each, the "?"
overlay, the spoken move, and focus kept after the Columns page's Save and arrows."""

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Membership, Task
from tests.factories import ApplicationFactory, MembershipFactory, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def board(db):
    application = ApplicationFactory(name="Acme")
    user = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ana").user
    project = make_project(application, name="Website", key="WEB")
    columns = list(project.task_statuses.order_by("position"))
    for column, count in zip(columns[:2], (4, 3), strict=True):
        for n in range(count):
            services.create_task(
                project=project, status_id=column.pk, title=f"{column.name} {n + 1}", reporter=user, at_top=False
            )
    return {"user": user, "project": project, "columns": columns}


@pytest.fixture
def page(browser, live_server, board):
    """A logged-in page on the board; the test fails on any page error."""
    context = browser.new_context(viewport=DESKTOP)
    errors = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", board["user"].username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your projects")
    page.goto(f"{live_server.url}{board['project'].get_absolute_url()}")
    expect(page.locator(".card")).to_have_count(7)
    yield page
    context.close()
    assert errors == []


def card_ids(board, column) -> list[int]:
    return list(
        Task.objects.filter(project=board["project"], task_status=column, archived_at=None)
        .order_by("position")
        .values_list("pk", flat=True)
    )


def focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def list_ids(page, column) -> list[int]:
    return [
        int(x)
        for x in page.locator(f"#column-{column.pk}-cards > .card").evaluate_all("els => els.map(e => e.dataset.id)")
    ]


def count_moves(page) -> list:
    moves = []
    page.on(
        "request",
        lambda request: moves.append(request.url) if request.method == "POST" and "/move/" in request.url else None,
    )
    return moves


class TestRovingTabindex:
    def test_few_tabs_reach_the_next_column(self, page, board):
        first, second = board["columns"][:2]
        ids = card_ids(board, first)
        page.locator(f"#card-{ids[2]}").focus()
        presses = 0
        while not page.evaluate(f"!!document.activeElement.closest('#column-{second.pk}-cards')"):
            page.keyboard.press("Tab")
            presses += 1
            assert presses <= 3, f"focus went to {focused_id(page)!r}"
        # One tab stop per list: the links and menus inside cards are not stops of their own.
        assert page.locator(f"#column-{first.pk}-cards [tabindex='0']").count() == 1
        assert page.locator(".card-title a[tabindex='-1']").count() == 7

    def test_j_k_and_arrows_move_focus(self, page, board):
        first, second = board["columns"][:2]
        ids, others = card_ids(board, first), card_ids(board, second)
        page.locator("body").press("j")  # from nowhere, j enters the board
        assert focused_id(page) == f"card-{ids[0]}"
        page.keyboard.press("j")
        page.keyboard.press("ArrowDown")
        assert focused_id(page) == f"card-{ids[2]}"
        page.keyboard.press("k")
        assert focused_id(page) == f"card-{ids[1]}"
        page.keyboard.press("ArrowRight")  # same height in the next column
        assert focused_id(page) == f"card-{others[1]}"
        page.keyboard.press("ArrowUp")
        assert focused_id(page) == f"card-{others[0]}"
        page.keyboard.press("ArrowLeft")
        assert focused_id(page) == f"card-{ids[0]}"
        # The list remembers its place: Tab back into it lands on the last focused card.
        assert page.locator(f"#card-{ids[0]}").get_attribute("tabindex") == "0"


class TestMovesByKeyboard:
    def test_shift_arrows_move_the_card_one_request_each(self, page, board):
        first, second = board["columns"][:2]
        ids = card_ids(board, first)
        moves = count_moves(page)
        card = page.locator(f"#card-{ids[0]}")
        card.focus()
        title = Task.objects.get(pk=ids[0]).title

        page.keyboard.press("Shift+ArrowDown")
        expect(page.locator(f"#column-{first.pk}-cards > .card").nth(1)).to_have_id(f"card-{ids[0]}")
        expect(page.locator(f"#card-{ids[0]}")).to_be_focused()
        page.keyboard.press("Shift+ArrowDown")
        expect(page.locator(f"#column-{first.pk}-cards > .card").nth(2)).to_have_id(f"card-{ids[0]}")
        expect(page.locator(f"#card-{ids[0]}")).to_be_focused()
        expect(page.locator("#board-announcer")).to_have_text(f"Moved {title} to {first.name}, position 3")
        assert len(moves) == 2
        assert card_ids(board, first) == [ids[1], ids[2], ids[0], ids[3]]
        assert list_ids(page, first) == card_ids(board, first)

        page.keyboard.press("Shift+ArrowUp")
        expect(page.locator(f"#column-{first.pk}-cards > .card").nth(1)).to_have_id(f"card-{ids[0]}")
        # The re-rendered card takes the focus back after htmx settles: the next key needs it.
        expect(page.locator(f"#card-{ids[0]}")).to_be_focused()
        assert len(moves) == 3
        assert card_ids(board, first) == [ids[1], ids[0], ids[2], ids[3]]

        page.keyboard.press("Shift+ArrowRight")  # to the top of the next column
        expect(page.locator(f"#column-{second.pk}-cards > .card").first).to_have_id(f"card-{ids[0]}")
        expect(page.locator(f"#card-{ids[0]}")).to_be_focused()
        expect(page.locator("#board-announcer")).to_have_text(f"Moved {title} to {second.name}, position 1")
        assert len(moves) == 4
        assert card_ids(board, second)[0] == ids[0]
        assert list_ids(page, second) == card_ids(board, second)

        page.keyboard.press("Shift+ArrowLeft")
        expect(page.locator(f"#column-{first.pk}-cards > .card").first).to_have_id(f"card-{ids[0]}")
        expect(page.locator(f"#card-{ids[0]}")).to_be_focused()
        assert len(moves) == 5
        assert card_ids(board, first)[0] == ids[0]
        assert page.locator("#board-announcer").get_attribute("aria-live") == "polite"

    def test_typing_in_the_new_card_input_triggers_no_shortcut(self, page, board):
        first = board["columns"][0]
        moves = count_moves(page)
        page.locator(f"#card-{card_ids(board, first)[0]}").focus()
        page.keyboard.press("c")  # c: the focused column's new-card input
        expect(page.locator(f"#new-card-{first.pk}")).to_be_focused()
        page.keyboard.type("jk?/em c")
        page.keyboard.press("Shift+ArrowDown")
        expect(page.locator(f"#new-card-{first.pk}")).to_have_value("jk?/em c")
        expect(page.locator(f"#new-card-{first.pk}")).to_be_focused()
        expect(page.locator("#keys-help")).not_to_be_visible()
        assert moves == []
        page.keyboard.press("Enter")
        expect(page.locator(f"#column-{first.pk}-cards .card-title", has_text="jk?/em c")).to_have_count(1)


class TestShortcuts:
    def test_help_overlay_opens_and_escape_closes(self, page):
        page.locator("body").press("?")
        overlay = page.locator("#keys-help")
        expect(overlay).to_be_visible()
        expect(overlay.locator("h2")).to_have_text("Keyboard shortcuts")
        expect(overlay).to_contain_text("Shift")
        page.keyboard.press("Escape")
        expect(overlay).not_to_be_visible()
        page.locator("body").press("/")
        expect(page.locator("#filter-q")).to_be_focused()

    def test_enter_e_and_m_open_the_card_and_its_menu(self, page, board):
        first = board["columns"][0]
        card_id = card_ids(board, first)[0]
        card = page.locator(f"#card-{card_id}")
        dialog = page.locator("#card-dialog")
        card.focus()
        page.keyboard.press("Enter")
        expect(dialog).to_be_visible()
        expect(dialog.locator(".card-edit")).to_have_count(0)
        page.keyboard.press("Escape")
        expect(dialog).not_to_be_visible()

        card.focus()
        page.keyboard.press("e")
        expect(dialog.locator(".card-edit input[name=title]")).to_be_focused()
        page.keyboard.press("Escape")
        expect(dialog).not_to_be_visible()

        card.focus()
        page.keyboard.press("m")
        menu = page.locator("#card-menu")
        expect(menu).to_be_visible()
        expect(menu.locator("select[name=status_id]")).to_be_focused()
        # Escape closes it and gives the keyboard back to the card; `m` opens it again.
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()
        expect(card).to_be_focused()
        page.keyboard.press("m")
        expect(menu.locator("select[name=status_id]")).to_be_focused()
        # A move from the menu is read out too.
        second = board["columns"][1]
        menu.locator("select[name=status_id]").select_option(str(second.pk))
        menu.get_by_role("button", name="Move", exact=True).click()
        title = Task.objects.get(pk=card_id).title
        expect(page.locator("#board-announcer")).to_have_text(f"Moved {title} to {second.name}, position 1")
        assert card_ids(board, second)[0] == card_id

    def test_a_assigns_the_focused_card_to_me_and_keeps_the_keyboard(self, page, board):
        first = board["columns"][0]
        card_id = card_ids(board, first)[0]
        assert Task.objects.get(pk=card_id).assignee_id is None
        card = page.locator(f"#card-{card_id}")
        card.focus()
        page.keyboard.press("a")
        expect(card.locator(".assignee")).to_contain_text(board["user"].first_name or board["user"].username)
        expect(page.locator(f"#card-{card_id}")).to_be_focused()
        assert Task.objects.get(pk=card_id).assignee_id == board["user"].pk


class TestColumnsPageFocus:
    def test_focus_stays_on_the_control_used(self, page, live_server, board):
        first, second = board["columns"][:2]
        page.goto(f"{live_server.url}/projects/{board['project'].pk}/columns/")
        row = page.locator(f"#column-setting-{first.pk}")
        row.locator("input[name=name]").fill("Backlog")
        row.locator("button", has_text="Save").focus()
        with page.expect_response(lambda response: response.request.method == "POST"):
            page.keyboard.press("Enter")
        expect(page.locator(f"#column-setting-{first.pk} input[name=name]")).to_have_value("Backlog")
        expect(page.locator(f"#column-setting-{first.pk} button", has_text="Save")).to_be_focused()

        # The arrow moves the row; the keyboard goes with it, on the same arrow.
        page.locator(f"#column-setting-{first.pk} button[value=right]").focus()
        page.keyboard.press("Enter")
        expect(page.locator(".column-setting").nth(1)).to_have_id(f"column-setting-{first.pk}")
        expect(page.locator(f"#column-setting-{first.pk} button[value=right]")).to_be_focused()
        # At the first place its left arrow is disabled: the other arrow of the row has the focus.
        page.locator(f"#column-setting-{first.pk} button[value=left]").focus()
        page.keyboard.press("Enter")
        expect(page.locator(".column-setting").first).to_have_id(f"column-setting-{first.pk}")
        expect(page.locator(f"#column-setting-{first.pk} button[value=right]")).to_be_focused()
        assert list(board["project"].task_statuses.order_by("position").values_list("pk", flat=True))[:2] == [
            first.pk,
            second.pk,
        ]
