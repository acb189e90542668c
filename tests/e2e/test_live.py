"""Two people on one board in two real Chromium contexts, served by daphne (WebSockets)."""

import pytest
from playwright.sync_api import expect

from boards import live, services
from boards.models import Membership
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.live_support import Browserless, Daphne, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def open_board(browser, server, session, project, errors):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{server.url}/projects/{project.pk}/")
    return page


@pytest.fixture
def board(transactional_db):
    """Made before the browser starts: ORM calls inside Playwright's loop would open extra connections."""
    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(
        application=application, role=Membership.Role.OWNER, user__first_name="Ada", user__last_name="Lovelace"
    ).user
    bob = MembershipFactory(
        application=application, role=Membership.Role.EDITOR, user__first_name="Bob", user__last_name="Marley"
    ).user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="Ship live boards", reporter=ada)
    services.create_task(project=project, status_id=columns["done"].pk, title="Already done", reporter=ada)
    return {
        "project": project,
        "task": task,
        "todo": columns["todo"].pk,
        "done": columns["done"].pk,
        "ada": session_cookie(ada),
        "bob": session_cookie(bob),
    }


def test_a_move_in_one_browser_shows_in_the_other_with_counts_and_presence(board, server, browser):
    project, task, todo, done = board["project"], board["task"], board["todo"], board["done"]
    errors: list[str] = []
    mine = open_board(browser, server, board["ada"], project, errors)
    theirs = open_board(browser, server, board["bob"], project, errors)
    for page in (mine, theirs):
        presence = page.locator(f"#presence-{project.pk} li")
        expect(presence).to_have_count(2)
        expect(presence).to_have_text(["AL", "BM"])
        expect(page.locator("#live")).to_have_attribute("data-state", "live")

    expect(theirs.locator(f"#project-{project.pk}-status")).to_have_text("Active")
    card = mine.locator(f"#card-{task.pk}")
    card.locator(".card-menu-button").click()
    mine.locator("#card-menu .move-form select").select_option(str(done))
    mine.locator("#card-menu").get_by_role("button", name="Move", exact=True).click()

    expect(theirs.locator(f"#column-{done}-cards #card-{task.pk}")).to_contain_text("Ship live boards")
    expect(theirs.locator(f"#column-{todo}-cards #card-{task.pk}")).to_have_count(0)
    expect(theirs.locator(f"#column-{done}-count .held")).to_have_text("2")
    expect(theirs.locator(f"#column-{todo}-count .held")).to_have_text("0")
    expect(theirs.locator(f"#project-{project.pk}-status")).to_have_text("Done")  # every card is done now
    # The mover's page shows its own response once: no echo, no duplicate card.
    expect(mine.locator(f"#column-{done}-cards #card-{task.pk}")).to_have_count(1)
    expect(mine.locator(f"#card-{task.pk}")).to_have_count(1)
    expect(mine.locator(f"#column-{done}-count .held")).to_have_text("2")

    # Bob leaves: Ada's board drops him from presence.
    theirs.context.close()
    expect(mine.locator(f"#presence-{project.pk} li")).to_have_text(["AL"])
    assert errors == []


def test_a_gap_or_a_reconnect_refetches_the_board(board, server, browser):
    project, task, todo, done = board["project"], board["task"], board["todo"], board["done"]
    errors: list[str] = []
    page = open_board(browser, server, board["ada"], project, errors)
    live_root = page.locator("#live")
    expect(live_root).to_have_attribute("data-state", "live")
    seq = int(live_root.get_attribute("data-seq"))

    # An event that skips a number is not applied: the page re-fetches the board instead.
    bogus = f'<div id="live-meta" hx-swap-oob="true" data-kind="change" data-seq="{seq + 2}"></div>'
    bogus += f'<div hx-swap-oob="afterbegin:#column-{todo}-cards"><article id="card-0">Bogus</article></div>'
    page.evaluate(
        "() => document.body.addEventListener('live:resynced', () => { document.body.dataset.resynced = 'yes'; })"
    )
    live.publish(project.pk, bogus, seq=seq + 2)
    assert live.flush()
    expect(page.locator("body")).to_have_attribute("data-resynced", "yes")
    expect(page.locator("#card-0")).to_have_count(0)

    # The server goes away: the page says so, and when it is back it catches up by itself with
    # what changed meanwhile (a move made through another process).
    other = Daphne()
    restarted = None
    try:
        other.wait_ready()
        http = Browserless(other.url, board["ada"])
        assert http.request(f"/projects/{project.pk}/")[0] == 200  # the CSRF cookie
        port = server.port
        server.stop()
        expect(live_root).to_have_attribute("data-state", "reconnecting")
        expect(live_root.locator(".live-state")).to_have_text("Reconnecting…")
        status, _ = http.request(
            f"/projects/{project.pk}/cards/{task.pk}/move/", {"status_id": done}, headers={"HX-Request": "true"}
        )
        assert status == 200
        restarted = Daphne(port)
        restarted.wait_ready()
        expect(live_root).to_have_attribute("data-state", "live", timeout=15000)
        expect(page.locator(f"#column-{done}-cards #card-{task.pk}")).to_have_count(1)
        expect(page.locator(f"#column-{done}-count .held")).to_have_text("2")
        assert errors == []
    finally:
        page.context.close()
        other.stop()
        if restarted is not None:
            restarted.stop()


# Every close code the page's sockets receive, in order, in window.closeCodes.
RECORD_CLOSE_CODES = """
window.closeCodes = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new NativeWebSocket(...args);
  socket.addEventListener("close", (event) => window.closeCodes.push(event.code));
  return socket;
};
Object.assign(window.WebSocket, NativeWebSocket);
window.WebSocket.prototype = NativeWebSocket.prototype;
"""


def test_a_tab_over_the_socket_limit_says_so_and_does_not_reconnect(board, browser):
    project = board["project"]
    server = Daphne(WS_SOCKETS_PER_USER="1")
    contexts = []
    try:
        server.wait_ready()
        errors: list[str] = []
        first = open_board(browser, server, board["ada"], project, errors)
        contexts.append(first.context)
        expect(first.locator("#live")).to_have_attribute("data-state", "live")

        context = browser.new_context()
        contexts.append(context)
        context.add_cookies([{"name": "sessionid", "value": board["ada"], "url": server.url}])
        second = context.new_page()
        second.add_init_script(RECORD_CLOSE_CODES)
        attempts: list[str] = []
        second.on("websocket", lambda socket: attempts.append(socket.url))
        second.goto(f"{server.url}/projects/{project.pk}/")
        live_root = second.locator("#live")
        expect(live_root).to_have_attribute("data-state", "closed")
        expect(live_root.locator(".live-state")).to_contain_text("too many open boards")
        refused = len(attempts)
        second.wait_for_timeout(4000)  # longer than the page's longest reconnect delay (3 s)
        codes = second.evaluate("window.closeCodes")
        # A handshake that failed on its way (1006, or a server error) is retried, as it should
        # be; once the server has said "too many" (4429), nothing is.
        assert codes[-1] == 4429 and set(codes[:-1]) <= {1006, 1011, 1012, 1013}, codes
        assert len(attempts) == refused == len(codes), (attempts, codes)
        expect(first.locator("#live")).to_have_attribute("data-state", "live")
        assert errors == []
    finally:
        for context in contexts:
            context.close()
        server.stop()
