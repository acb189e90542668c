"""The card dialog in real Chromium against daphne (WebSockets), two people on one board (issue 16):
view and edit modes, the edit lock taken only for editing and shown on the card face, the open
dialog following other people's changes, and no htmx errors for fragments the page cannot place."""

import pytest
from playwright.sync_api import expect

from boards import queries, services
from boards.models import Membership, Task
from tests.e2e.test_theme import serious_violations
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.live_support import session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

DESCRIPTION = "Steps below.\n\n| Step | Who |\n| --- | --- |\n| Draft | Ada |\n| Review | Bob |\n\n" + "\n\n".join(
    f"Paragraph {n} of a long description that pushes the editor's buttons below the fold." for n in range(40)
)


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
    task = services.create_task(
        project=project, status_id=columns["todo"].pk, title="Ship live boards", reporter=ada, description=DESCRIPTION
    )
    other = services.create_task(project=project, status_id=columns["active"].pk, title="Write the docs", reporter=ada)
    return {"project": project, "task": task, "other": other, "columns": columns, "ada": ada, "bob": bob}


def open_board(browser, server, user, project, errors, viewport=None, color_scheme="light"):
    context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900}, color_scheme=color_scheme)
    context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": server.url}])
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    # htmx reports a fragment without a target (htmx:oobErrorNoTarget) as a console error.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" or "Security Policy" in m.text else None)
    page.goto(f"{server.url}/projects/{project.pk}/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    return page


def open_card(page, task):
    page.locator(f"#card-{task.pk} .card-title a").click()
    dialog = page.locator("#card-dialog")
    expect(dialog.locator(f"#card-{task.pk}-detail")).to_be_visible()
    return dialog


def test_view_mode_then_edit_mode_with_save_in_view(board, server, browser, screenshot_path):
    project, task = board["project"], board["task"]
    errors: list[str] = []
    # A short window: the editor is taller than the dialog can be, and scrolls inside it.
    page = open_board(browser, server, board["ada"], project, errors, viewport={"width": 1280, "height": 600})
    dialog = open_card(page, task)
    # Named after the card, not "Card".
    expect(page.get_by_role("dialog", name=f"WEB-{task.number} Ship live boards")).to_be_visible()
    # View mode: the rendered description and Edit, no raw editor.
    expect(dialog.locator(".markdown.description table")).to_be_visible()
    expect(dialog.locator("textarea[name=description]")).to_have_count(0)
    expect(dialog.get_by_role("link", name="Edit")).to_be_in_viewport(ratio=1)
    styles = dialog.locator(".markdown th").first.evaluate(
        "th => { const s = getComputedStyle(th); return [s.borderTopStyle, s.paddingLeft, s.backgroundColor]; }"
    )
    assert styles[0] == "solid" and styles[1] != "0px" and styles[2] not in ("rgba(0, 0, 0, 0)", "transparent")
    page.screenshot(path=str(screenshot_path("card-dialog.png")), caret="initial")

    dialog.get_by_role("link", name="Edit").click()
    expect(dialog.locator("textarea[name=description]")).to_be_visible()
    expect(dialog.locator(".markdown.description")).to_have_count(0)
    expect(dialog.locator("input[name=title]")).to_be_focused()
    # Save and Cancel stay in view (a sticky footer) while the rest of the editor does not.
    save = dialog.get_by_role("button", name="Save")
    expect(dialog.locator(".activity")).not_to_be_in_viewport()
    expect(save).to_be_in_viewport(ratio=1)
    dialog.locator("textarea[name=description]").evaluate("area => area.scrollIntoView()")
    expect(save).to_be_in_viewport(ratio=1)
    expect(dialog.get_by_role("link", name="Cancel")).to_be_in_viewport()
    page.screenshot(path=str(screenshot_path("card-dialog-edit.png")), caret="initial")

    dialog.locator("input[name=title]").fill("Ship live boards now")
    save.click()
    expect(dialog.locator(".message.ok")).to_have_text("Saved.")
    expect(dialog.locator("textarea[name=description]")).to_have_count(0)  # back to view mode
    expect(page.locator(f"#card-{task.pk} .card-title")).to_have_text("Ship live boards now")
    expect(page.get_by_role("dialog", name=f"WEB-{task.number} Ship live boards now")).to_be_visible()

    # Cancel leaves edit mode without saving.
    dialog.get_by_role("link", name="Edit").click()
    dialog.locator("input[name=title]").fill("Not this")
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog.locator("textarea[name=description]")).to_have_count(0)
    expect(dialog.locator("#card-dialog-title")).to_have_text("Ship live boards now")
    assert Task.objects.get(pk=task.pk).title == "Ship live boards now"
    page.context.close()
    assert errors == []


def test_escape_with_unsaved_text_asks_first_then_discards(board, server, browser):
    project, task = board["project"], board["task"]
    errors: list[str] = []
    page = open_board(browser, server, board["ada"], project, errors)
    dialog = open_card(page, task)
    page.keyboard.press("Escape")  # nothing typed: Esc closes at once
    expect(dialog).to_be_hidden()

    dialog = open_card(page, task)
    dialog.get_by_role("link", name="Edit").click()
    expect(dialog.locator("input[name=title]")).to_be_focused()
    dialog.locator("textarea[name=description]").fill("Notes I have not saved")
    page.keyboard.press("Escape")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".message.error")).to_contain_text("press Esc again to discard")
    expect(dialog.locator("textarea[name=description]")).to_have_value("Notes I have not saved")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert Task.objects.get(pk=task.pk).description != "Notes I have not saved"
    page.context.close()
    assert errors == []


def test_reading_locks_nothing_and_editing_shows_on_the_card_face(board, server, browser):
    project, task = board["project"], board["task"]
    errors: list[str] = []
    ada = open_board(browser, server, board["ada"], project, errors)
    bob = open_board(browser, server, board["bob"], project, errors)
    mark = ada.locator(f"#card-{task.pk} .card-editing")

    # Ada reads the card; Bob can still edit it at once.
    ada_dialog = open_card(ada, task)
    bob_dialog = open_card(bob, task)
    bob_dialog.get_by_role("link", name="Edit").click()
    expect(bob_dialog.locator("textarea[name=description]")).to_be_visible()
    # Edit took the lock: Ada's board and her open dialog say who edits.
    expect(ada_dialog.locator(f"#card-{task.pk}-lock-notice")).to_have_text("Being edited by Bob Marley.")
    ada.keyboard.press("Escape")
    expect(mark).to_have_text("Being edited by Bob Marley")
    # A board opened now marks the card at once, before the next renewal (every 10 s) tells it.
    late = open_board(browser, server, board["ada"], project, errors)
    expect(late.locator(f"#card-{task.pk} .card-editing")).to_have_text("Being edited by Bob Marley", timeout=3000)
    late.context.close()

    # Cancel gives it back; Edit again takes it.
    bob_dialog.get_by_role("link", name="Cancel").click()
    expect(mark).to_have_count(0)
    bob_dialog.get_by_role("link", name="Edit").click()
    expect(mark).to_have_text("Being edited by Bob Marley")
    expect(bob_dialog.locator("input[name=title]")).to_be_focused()  # the editor is open
    # Bob leaves the editor (blur): the lock is given back, the mark goes.
    bob_dialog.locator("#card-dialog-title").click()
    expect(mark).to_have_count(0)
    # His first keystroke takes it again.
    bob_dialog.locator("textarea[name=description]").press("End")
    bob_dialog.locator("textarea[name=description]").type(" More.")
    expect(mark).to_have_text("Being edited by Bob Marley")
    # Ada asks to edit meanwhile: she is told, and her editor opens when Bob is done.
    ada_dialog = open_card(ada, task)
    ada_dialog.get_by_role("link", name="Edit").click()
    expect(ada_dialog.get_by_role("link", name="Edit when they are done")).to_be_visible()
    expect(ada_dialog.locator("textarea[name=description]")).to_have_count(0)
    ada.keyboard.press("Escape")

    # Closing the dialog gives it back (he typed: the first Esc asks, the second discards).
    bob.keyboard.press("Escape")
    expect(bob_dialog.locator(".message.error")).to_contain_text("press Esc again")
    bob.keyboard.press("Escape")
    expect(mark).to_have_count(0)
    ada_dialog = open_card(ada, task)
    ada_dialog.get_by_role("link", name="Edit").click()
    expect(ada_dialog.locator("textarea[name=description]")).to_be_visible()
    expect(bob.locator(f"#card-{task.pk} .card-editing")).to_have_text("Being edited by Ada Lovelace")
    # Leaving the page (pagehide) gives it back too.
    ada.goto(f"{server.url}/")
    expect(bob.locator(f"#card-{task.pk} .card-editing")).to_have_count(0)
    for page in (ada, bob):
        page.context.close()
    assert errors == []


def test_the_open_dialog_follows_other_peoples_changes(board, server, browser):
    project, task, other, columns = board["project"], board["task"], board["other"], board["columns"]
    errors: list[str] = []
    page = open_board(browser, server, board["ada"], project, errors)
    dialog = open_card(page, task)

    services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk, actor=board["bob"])
    expect(dialog.locator(".card-key")).to_contain_text("in Done")
    services.update_task(project=project, task_id=task.pk, version=1, title="Shipped", actor=board["bob"])
    expect(dialog.locator("#card-dialog-title")).to_have_text("Shipped")
    services.archive_task(project=project, task_id=task.pk, actor=board["bob"])
    expect(dialog.locator(f"#card-{task.pk}-detail-message")).to_have_text("This card was archived by someone else.")
    expect(dialog.locator(".card-key .badge")).to_have_text("archived")
    services.delete_task(project=project, task_id=task.pk, actor=board["bob"])
    expect(dialog.locator(f"#card-{task.pk}-detail-message")).to_have_text("This card was deleted by someone else.")
    expect(dialog.get_by_role("button", name="Unarchive")).to_have_count(0)
    page.keyboard.press("Escape")

    # In edit mode the text typed stays; the header follows, and a deletion is said.
    dialog = open_card(page, other)
    dialog.get_by_role("link", name="Edit").click()
    dialog.locator("textarea[name=description]").fill("My notes")
    services.move_task(project=project, task_id=other.pk, status_id=columns["review"].pk, actor=board["bob"])
    expect(dialog.locator(".card-key")).to_contain_text("in In Review")
    expect(dialog.locator(f"#card-{other.pk}-detail-message")).to_contain_text("Someone else changed this card")
    expect(dialog.locator("textarea[name=description]")).to_have_value("My notes")
    services.delete_task(project=project, task_id=other.pk, actor=board["bob"])
    expect(dialog.locator(f"#card-{other.pk}-detail-message")).to_contain_text("deleted by someone else")
    expect(dialog.locator("textarea[name=description]")).to_have_value("My notes")
    page.context.close()
    # The deleted card's address answers 404, as it should; Chromium logs the response.
    assert [error for error in errors if "status of 404" not in error] == []


def test_fragments_for_cards_the_page_has_not_loaded_are_no_errors(board, server, browser):
    """A column longer than one page: changes to its unloaded cards, live or in a response, place
    nothing and log nothing (htmx:oobErrorNoTarget before)."""
    project, columns = board["project"], board["columns"]
    todo = columns["todo"]
    for n in range(queries.PAGE_SIZE + 2):
        services.create_task(
            project=project, status_id=todo.pk, title=f"Backlog {n}", reporter=board["ada"], at_top=False
        )
    last, before_last = Task.objects.filter(task_status=todo).order_by("-position")[:2]
    errors: list[str] = []
    page = open_board(browser, server, board["ada"], project, errors)
    expect(page.locator(f"#card-{last.pk}")).to_have_count(0)  # beyond "Show more"

    # Someone else moves an unloaded card within the unloaded part, and edits another.
    services.move_task(project=project, task_id=last.pk, status_id=todo.pk, before_id=before_last.pk)
    services.update_task(project=project, task_id=before_last.pk, version=1, title="Renamed", actor=board["bob"])
    expect(page.locator(f"#column-{todo.pk}-count .held")).to_have_text(str(queries.PAGE_SIZE + 3))
    page.wait_for_timeout(500)
    expect(page.locator(f"#card-{last.pk}")).to_have_count(0)

    # The dialog of an unloaded card (opened by its address): saving answers its card face too.
    page.evaluate(
        "url => htmx.ajax('GET', url, {target: '#card-dialog-body'})", f"/projects/{project.pk}/cards/{last.pk}/"
    )
    dialog = page.locator("#card-dialog")
    dialog.get_by_role("link", name="Edit").click()
    dialog.locator("input[name=title]").fill("Saved far down")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator(".message.ok")).to_have_text("Saved.")
    page.keyboard.press("Escape")
    expect(page.locator(f"#card-{last.pk}")).to_have_count(0)
    page.context.close()
    assert errors == []


def test_undo_puts_an_archived_card_back_where_it_was(board, server, browser):
    project, todo = board["project"], board["columns"]["todo"]
    for title in ("Second", "Third"):
        services.create_task(project=project, status_id=todo.pk, title=title, reporter=board["ada"], at_top=False)
    errors: list[str] = []
    page = open_board(browser, server, board["ada"], project, errors)
    titles = page.locator(f"#column-{todo.pk}-cards .card-title")
    expect(titles).to_have_text(["Ship live boards", "Second", "Third"])
    middle = Task.objects.get(title="Second")
    page.locator(f"#card-{middle.pk} .card-menu-button").click()
    page.locator("#card-menu").get_by_role("button", name="Archive").click()
    expect(titles).to_have_text(["Ship live boards", "Third"])
    page.locator("#board-messages").get_by_role("button", name="Undo").click()
    expect(titles).to_have_text(["Ship live boards", "Second", "Third"])
    page.reload()
    expect(titles).to_have_text(["Ship live boards", "Second", "Third"])
    page.context.close()
    assert errors == []


def test_without_javascript_the_card_page_views_and_edits(board, server, browser):
    project, task = board["project"], board["task"]
    context = browser.new_context(java_script_enabled=False)
    context.add_cookies([{"name": "sessionid", "value": session_cookie(board["ada"]), "url": server.url}])
    page = context.new_page()
    page.goto(f"{server.url}/projects/{project.pk}/cards/{task.pk}/")
    expect(page.locator(".markdown.description table")).to_be_visible()
    expect(page.locator("textarea[name=description]")).to_have_count(0)
    page.get_by_role("link", name="Edit").click()
    page.locator("input[name=title]").fill("Edited without JavaScript")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#card-dialog-title")).to_have_text("Edited without JavaScript")
    expect(page.locator("textarea[name=description]")).to_have_count(0)
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("textarea[name=description]")).to_have_count(0)
    page.get_by_role("button", name="Archive").click()
    archived = Task.objects.get(pk=task.pk)
    assert archived.title == "Edited without JavaScript" and archived.archived_at is not None
    context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_edit_mode_and_the_editing_mark_pass_axe(board, server, browser, theme):
    """The new parts (edit mode with its footer, the card face's mark, the dialog's lock notice)
    meet WCAG AA in both themes, as tests/e2e/test_theme.py checks the rest."""
    project, task = board["project"], board["task"]
    errors: list[str] = []
    ada = open_board(browser, server, board["ada"], project, errors, color_scheme=theme)
    bob = open_board(browser, server, board["bob"], project, errors, color_scheme=theme)
    dialog = open_card(bob, task)
    dialog.get_by_role("link", name="Edit").click()
    expect(dialog.locator("textarea[name=description]")).to_be_visible()
    found = {"edit mode": serious_violations(bob)}
    expect(ada.locator(f"#card-{task.pk} .card-editing")).to_have_text("Being edited by Bob Marley")
    found["editing mark"] = serious_violations(ada)
    open_card(ada, task)
    expect(ada.locator(f"#card-{task.pk}-lock-notice")).to_have_text("Being edited by Bob Marley.")
    found["lock notice"] = serious_violations(ada)
    for page in (ada, bob):
        page.context.close()
    assert found == {"edit mode": [], "editing mark": [], "lock notice": []}
    assert errors == []
