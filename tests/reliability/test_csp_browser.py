"""The pages work in a real Chromium under the Content-Security-Policy, and hostile text stays text."""

import shutil

import pytest
from playwright.sync_api import sync_playwright

from boards import services
from tests.reliability.test_hostile_board import HOSTILE_MARKDOWN
from tests.reliability.test_hostile_input import HOSTILE_TEXT

pytestmark = [pytest.mark.timeout(120), pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


def test_pages_work_under_the_policy_and_markup_stays_inert(daphne, owner, project, columns):
    hostile = services.create_task(
        project=project, status_id=columns["todo"].pk, title=HOSTILE_TEXT[:200], reporter=owner
    )
    services.update_task(project=project, task_id=hostile.pk, version=hostile.version, description=HOSTILE_MARKDOWN)
    server = daphne(static=True)
    base = f"http://127.0.0.1:{server.port}"
    console: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.add_init_script(WATCH_VIOLATIONS)
            page.on("console", lambda message: console.append(message.text))
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

            page.goto(f"{base}/login/")
            page.fill("input[name=username]", owner.username)
            page.fill("input[name=password]", "secret-pass")
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert page.url == f"{base}/", (page.url, page.locator("main").inner_text(), server.log()[-2000:])

            page.goto(f"{base}{project.get_absolute_url()}")
            assert page.evaluate("typeof htmx") == "object"  # our scripts ran under script-src 'self'
            # An htmx write: a new card through the column's form, swapped in out of band.
            field = page.locator(f"#new-card-{columns['todo'].pk}")
            field.fill("Made under the policy")
            field.press("Enter")
            page.locator(".card-title", has_text="Made under the policy").wait_for()
            # The card dialog, fetched with hx-get.
            page.locator(f"#card-{hostile.pk}-title a").click()
            page.locator("#card-dialog-body .markdown").first.wait_for()
            page.goto(f"{base}{hostile.get_absolute_url()}")
            for path in ("archived", "columns", "insights"):
                page.goto(f"{base}/projects/{project.pk}/{path}/")
            page.goto(f"{base}/admin/")  # not staff: the admin's login page, also under the policy
            violations = page.evaluate("window.__violations")
        finally:
            browser.close()

    assert not dialogs, f"script from user text ran: {dialogs}"
    assert not violations, violations
    assert not [line for line in console if "Content Security Policy" in line], console
