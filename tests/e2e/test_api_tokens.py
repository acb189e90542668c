"""The API tokens page in a real Chromium, served by daphne: from the profile, create a token, copy
it, use it against the API, revoke it; the API docs page renders under the CSP."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import ApplicationFactory, MembershipFactory
from tests.support.live_support import session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def ada(transactional_db):
    """Made before the browser starts: ORM calls inside Playwright's loop would open extra connections."""
    membership = MembershipFactory(application=ApplicationFactory(name="Acme"), role="owner", user__first_name="Ada")
    return {"workspace": membership.application_id, "cookie": session_cookie(membership.user)}


def test_create_copy_use_and_revoke_a_token(ada, server, browser):
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": ada["cookie"], "url": server.url}])
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(f"{server.url}/account/")
    page.get_by_role("link", name="create and revoke your API tokens").click()
    expect(page.locator("h1")).to_have_text("API tokens")
    page.fill('input[name="name"]', "CI")
    page.select_option('select[name="scope"]', "write")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").input_value()
    assert re.fullmatch(r"tt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token), token
    copy = page.locator('button[data-copy="#new-token"]')
    expect(copy).to_be_visible()  # copy.js shows it; without JavaScript the text is there to select
    copy.click()
    expect(copy).to_have_text("Copied")

    api = context.request
    headers = {"Authorization": f"Bearer {token}"}
    response = api.get(f"{server.url}/api/v1/workspaces/", headers=headers)
    assert response.status == 200 and response.json() == [{"id": ada["workspace"], "name": "Acme", "role": "owner"}]

    # Reloaded, the page lists the token by its prefix only; revoked, the token stops working.
    page.goto(f"{server.url}/account/tokens/")
    expect(page.locator("#new-token")).to_have_count(0)
    row = page.locator("table.api-tokens tbody tr").first
    expect(row).to_contain_text(token[:15])
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_contain_text("Revoked the token “CI”")
    expect(page.locator("table.api-tokens tbody tr").first).to_contain_text("revoked")
    assert api.get(f"{server.url}/api/v1/workspaces/", headers=headers).status == 401

    page.goto(f"{server.url}/api/v1/docs/")
    expect(page.locator("h1")).to_contain_text("Tasktrack API")
    expect(page.locator("#schema-CardOut")).to_be_visible()
    assert errors == []
    context.close()
