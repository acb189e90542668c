"""A team in two real Chromium contexts, served by daphne: the owner invites by link, the invitee
signs up through it and works on the board live; demoted, their move is refused; removed, their
board socket closes."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from boards import services
from boards.models import Membership, Task
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.live_support import Daphne, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def server():
    daphne = Daphne(SIGNUP_MODE="invitation")
    try:
        daphne.wait_ready()
        yield daphne
    finally:
        daphne.stop()


@pytest.fixture
def team(transactional_db):
    """Made before the browser starts: ORM calls inside Playwright's loop would open extra connections."""
    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(
        application=application, role=Membership.Role.OWNER, user__first_name="Ada", user__last_name="Lovelace"
    ).user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column.pk for column in project.task_statuses.order_by("position")}
    task = services.create_task(project=project, status_id=columns["todo"], title="Ship teams", reporter=ada)
    return {
        "application": application,
        "project": project,
        "task": task,
        "columns": columns,
        "ada": session_cookie(ada),
    }


def test_invite_sign_up_work_live_demote_and_remove(team, server, browser, screenshot_path):
    application, project, task, columns = team["application"], team["project"], team["task"], team["columns"]
    errors: list[str] = []

    def watch(page):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        return page

    owner_context = browser.new_context(viewport={"width": 1440, "height": 900})
    owner_context.add_cookies([{"name": "sessionid", "value": team["ada"], "url": server.url}])
    members_page = watch(owner_context.new_page())

    # The owner makes a single-use editor link from the members page.
    members_page.goto(f"{server.url}/workspaces/{application.pk}/members/")
    invite = members_page.locator("form.invite-form")
    invite.locator('select[name="role"]').select_option("editor")
    invite.locator('select[name="uses"]').select_option("single")
    invite.get_by_role("button", name="Create invitation").click()
    expect(members_page.locator(".flash")).to_contain_text("Invitation created")
    link = members_page.locator("#invitation-link").input_value()
    assert re.fullmatch(rf"{re.escape(server.url)}/invitations/[A-Za-z0-9_-]{{43}}/", link), link
    expect(members_page.get_by_role("button", name="Copy")).to_be_visible()  # JS shows it; the text is there without
    members_page.screenshot(path=screenshot_path("members.png"), full_page=True)

    # The invitee, in a browser of their own, opens it, signs up and joins.
    invitee_context = browser.new_context(viewport={"width": 1440, "height": 900})
    invitee = watch(invitee_context.new_page())
    invitee.goto(link)
    expect(invitee.locator("h1")).to_have_text("Join Acme")
    invitee.fill('input[name="username"]', "grace")
    invitee.fill('input[name="email"]', "grace@example.com")
    invitee.fill('input[name="password1"]', "compiler-1952-cobol")
    invitee.fill('input[name="password2"]', "compiler-1952-cobol")
    invitee.screenshot(path=screenshot_path("invitation.png"), full_page=True)
    invitee.get_by_role("button", name="Sign up and join").click()
    expect(invitee.locator(".flash")).to_contain_text("Welcome to Acme: you joined as editor.")
    grace = get_user_model().objects.get(username="grace")
    assert Membership.objects.get(application=application, user=grace).role == "editor"

    # Both on the board: the invitee moves a card, the owner sees it live.
    invitee.get_by_role("link", name=re.compile("Website")).first.click()
    expect(invitee.locator("#live")).to_have_attribute("data-state", "live")
    owner_board = watch(owner_context.new_page())
    owner_board.goto(f"{server.url}/projects/{project.pk}/")
    expect(owner_board.locator("#live")).to_have_attribute("data-state", "live")
    card = invitee.locator(f"#card-{task.pk}")
    card.locator(".card-menu-button").click()
    invitee.locator("#card-menu .move-form select").select_option(str(columns["active"]))
    invitee.locator("#card-menu").get_by_role("button", name="Move", exact=True).click()
    expect(owner_board.locator(f"#column-{columns['active']}-cards #card-{task.pk}")).to_contain_text("Ship teams")

    # Demoted to viewer, the invitee's next move (from the page they still have open) is refused.
    members_page.goto(f"{server.url}/workspaces/{application.pk}/members/")
    members_page.locator(f"#role-{grace.pk}").select_option("viewer")
    members_page.locator(f"#member-{grace.pk}").get_by_role("button", name="Change role").click()
    expect(members_page.locator(".flash")).to_contain_text("is now viewer")
    card = invitee.locator(f"#card-{task.pk}")
    card.locator(".card-menu-button").click()
    invitee.locator("#card-menu .move-form select").select_option(str(columns["done"]))
    invitee.locator("#card-menu").get_by_role("button", name="Move", exact=True).click()
    expect(invitee.locator("#board-messages")).to_contain_text("Viewers can look at this board but not change it.")
    assert Task.objects.get(pk=task.pk).task_status_id == columns["active"]
    expect(owner_board.locator(f"#column-{columns['active']}-cards #card-{task.pk}")).to_have_count(1)

    # Removed, the invitee's board socket closes at once and the page says live updates are off.
    members_page.locator(f"#member-{grace.pk}").get_by_role("button", name="Remove grace").click()
    expect(members_page.locator(".flash")).to_contain_text("was removed from Acme")
    expect(invitee.locator("#live")).to_have_attribute("data-state", "closed")
    expect(invitee.locator("#live .live-state")).to_have_text("Live updates are off for this board.")
    expect(owner_board.locator(f"#presence-{project.pk} li")).to_have_count(1)  # only the owner is here now
    assert not Membership.objects.filter(application=application, user=grace).exists()
    assert errors == []
    invitee_context.close()
    owner_context.close()
