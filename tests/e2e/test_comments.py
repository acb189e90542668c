"""Comments live between two browsers on one board (issue 14): one comments in the card dialog,
the other sees the count on the card face and the comment in its own open dialog, without a
reload; a draft being typed there survives; @ offers members and Enter picks one."""

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Comment, Membership, Mention
from tests.e2e.test_dialog import open_board, open_card
from tests.e2e.test_theme import serious_violations
from tests.factories import ApplicationFactory, MembershipFactory, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def board(transactional_db):
    """Made before the browser starts: ORM calls inside Playwright's loop would open extra connections."""
    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(
        application=application,
        role=Membership.Role.OWNER,
        user__username="ada",
        user__first_name="Ada",
        user__last_name="Lovelace",
    ).user
    bob = MembershipFactory(
        application=application,
        role=Membership.Role.EDITOR,
        user__username="bob",
        user__first_name="Bob",
        user__last_name="Marley",
    ).user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="Ship comments", reporter=ada)
    return {"project": project, "task": task, "ada": ada, "bob": bob}


def test_a_comment_in_one_browser_shows_live_in_the_other(board, server, browser):
    project, task = board["project"], board["task"]
    errors: list[str] = []
    ada = open_board(browser, server, board["ada"], project, errors)
    bob = open_board(browser, server, board["bob"], project, errors)
    ada_dialog = open_card(ada, task)
    bob_dialog = open_card(bob, task)
    expect(bob_dialog.locator(".comments")).to_contain_text("No comments yet.")
    # Bob starts a comment of his own: Ada's comment must not wipe it.
    bob_dialog.locator(f"#comment-new-{task.pk}").fill("My draft")

    box = ada_dialog.locator(f"#comment-new-{task.pk}")
    box.click()
    box.press_sequentially("Thanks @bo")
    listbox = ada_dialog.get_by_role("listbox", name="People to mention")
    expect(listbox.get_by_role("option")).to_have_count(1)
    expect(listbox.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", listbox.get_by_role("option").first.get_attribute("id"))
    box.press("Enter")
    expect(listbox).to_have_count(0)
    expect(box).to_have_value("Thanks @bob ")
    box.press_sequentially("**shipped**")
    ada_dialog.get_by_role("button", name="Comment", exact=True).click()

    # Ada's own dialog and card face follow from her response.
    expect(ada_dialog.locator(".comment")).to_have_count(1)
    expect(ada_dialog.locator(".comment-body strong")).to_have_text("shipped")
    expect(ada_dialog.locator(".comment-body a.mention")).to_have_text("@bob")
    expect(box).to_have_value("")
    expect(ada.locator(f"#card-{task.pk} .face-comments")).to_contain_text("1")

    # Bob's board and open dialog follow live; his draft is kept.
    expect(bob.locator(f"#card-{task.pk} .face-comments")).to_contain_text("1")
    expect(bob_dialog.locator(".comment")).to_have_count(1)
    expect(bob_dialog.locator(".comment")).to_contain_text("Ada Lovelace")
    expect(bob_dialog.locator(".comment-body")).to_contain_text("Thanks @bob shipped")
    expect(bob_dialog.locator(f"#comment-new-{task.pk}")).to_have_value("My draft")
    bob_dialog.get_by_role("button", name="Comment", exact=True).click()
    expect(ada_dialog.locator(".comment")).to_have_count(2)
    expect(ada.locator(f"#card-{task.pk} .face-comments")).to_contain_text("2")

    assert Comment.objects.filter(task=task).count() == 2
    assert list(Mention.objects.values_list("user__username", flat=True)) == ["bob"]
    assert errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_comments_and_the_mention_list_pass_axe(board, server, browser, screenshot_path, theme):
    """The comments region (with a comment, its edit and delete steps) and the open mention
    listbox meet WCAG AA in both themes."""
    project, task = board["project"], board["task"]
    services.add_comment(project=project, task_id=task.pk, body="Hello @bob, see `code`", author=board["ada"])
    errors: list[str] = []
    ada = open_board(browser, server, board["ada"], project, errors, color_scheme=theme)
    dialog = open_card(ada, task)
    dialog.locator(".comment-edit summary").click()
    box = dialog.locator(f"#comment-new-{task.pk}")
    box.click()
    box.press_sequentially("@a")
    expect(dialog.get_by_role("listbox").get_by_role("option")).to_have_count(1)
    dialog.locator(".comments").scroll_into_view_if_needed()
    ada.screenshot(path=str(screenshot_path(f"card-comments-{theme}.png")), caret="initial")
    assert serious_violations(ada) == []
    box.press("Escape")
    expect(dialog.get_by_role("listbox")).to_have_count(0)
    expect(dialog).to_be_visible()  # Escape closed the list, not the dialog
    assert errors == []
