"""Workspaces in a real Chromium: the header switcher loads when opened, and an owner archives a
project whose board an editor has open: the editor's board turns read-only (no JavaScript error,
nothing blocked by the Content-Security-Policy)."""

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Membership
from tests.factories import ApplicationFactory, MembershipFactory, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team(db):
    application = ApplicationFactory(name="Acme")
    owner = MembershipFactory(application=application, role=Membership.Role.OWNER).user
    second = MembershipFactory(user=owner, role=Membership.Role.VIEWER, application__name="Beta <team>").application
    project = make_project(application, name="Website", key="WEB")
    column = project.task_statuses.order_by("position").first()
    services.create_task(project=project, status_id=column.pk, title="Write release notes", reporter=owner)
    return {"owner": owner, "application": application, "second": second, "project": project}


def logged_in(browser, live_server, user):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your projects")
    return context, page, errors


def test_switcher_and_archive(browser, live_server, team, screenshot_path):
    context, page, errors = logged_in(browser, live_server, team["owner"])
    page.click("details.switcher summary")
    switcher = page.locator(".switcher-list")
    expect(switcher.get_by_role("link", name="Acme")).to_be_visible()
    expect(switcher.get_by_role("link", name="Beta <team>")).to_be_visible()
    switcher.get_by_role("link", name="Acme").click()
    expect(page.locator("h1")).to_have_text("Acme")

    page.locator(f"#project-{team['project'].pk}").get_by_role("button", name="Archive").click()
    expect(page.locator(".flash")).to_contain_text("Archived “Website”")
    expect(page.locator("#archived-heading")).to_be_visible()
    page.screenshot(path=screenshot_path("workspace-archived.png"))

    project = team["project"]
    page.locator(f"#project-{project.pk} a[href='/projects/{project.pk}/']").click()
    expect(page.locator(".board-page")).to_contain_text("This project is archived")
    expect(page.locator("#board")).not_to_have_attribute("data-can-edit", "")
    page.get_by_role("button", name="Unarchive").click()
    expect(page.locator(".flash")).to_contain_text("is back")
    context.close()
    assert errors == []
