"""Browser pages for the e2e tests (Playwright), set up as a user would reach them."""

from contextlib import contextmanager

from playwright.sync_api import expect


@contextmanager
def logged_in_page(browser, base_url: str, user, *, viewport=None, password: str = "secret-pass"):
    """A page of a fresh context, logged in through the log-in form as `user`; on leaving, no page
    error and nothing the Content-Security-Policy blocked (no inline script or style we ship)."""
    context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your projects")
    yield page
    context.close()
    assert errors == []
