"""Light and dark themes in a real Chromium: every page passes axe-core's WCAG 2 AA checks
(colour contrast first) in both, the toggle remembers a choice, and without JavaScript the
system's setting applies.

axe-core (tests/e2e/vendor, test-only) is put into each page with page.evaluate: the page's
Content-Security-Policy (script-src 'self') refuses an injected <script> tag, and evaluate runs
over the DevTools protocol, which that policy does not govern, so no test needs bypass_csp.
"""

import datetime as dt
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from boards import queries, services
from boards.models import Membership, Task
from tests.factories import ApplicationFactory, MembershipFactory, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
# WCAG 2.0 and 2.1, levels A and AA: colour contrast and the rest of what axe can check.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESCRIPTION = """A card with **bold**, `code`, a [link](https://example.com) and a list:

- [x] done item
- [ ] open item

```
pre-formatted block
```

| Column | Value |
| --- | --- |
| Cell | 1 |
"""

LIGHT_BG, DARK_BG = "rgb(244, 245, 248)", "rgb(15, 20, 28)"  # --bg of each theme
THEME_BG = {"light": LIGHT_BG, "dark": DARK_BG}


@pytest.fixture
def board(transactional_db):
    """A board with every kind of column, one over its WIP limit, assigned and unassigned cards."""
    application = ApplicationFactory(name="Acme")
    membership = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ana")
    MembershipFactory(application=application, role=Membership.Role.EDITOR, user__first_name="Ben")
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    user = membership.user
    titles = {
        "todo": ["Write release notes", "Plan billing export"],
        "active": ["Design onboarding email", "Fix login page", "Tune the search index"],
        "review": ["Measure API rate limits"],
        "issue": ["Backups fail on Sundays"],
        "done": ["Ship dark mode"],
    }
    for category, names in titles.items():
        for n, name in enumerate(names):
            services.create_task(
                project=project,
                status_id=columns[category].pk,
                title=name,
                reporter=user,
                assignee=user if n % 2 == 0 else None,
                description=DESCRIPTION if name == "Write release notes" else "",
                at_top=False,
            )
    active = columns["active"]
    services.update_column(project=project, status_id=active.pk, name=active.name, category="active", wip_limit=2)
    task = Task.objects.get(title="Write release notes")
    # Labels, a priority and due dates on the faces, the due page and the labels page (issue 14).
    labels = [services.create_label(project=project, name=name, colour=colour) for name, colour in LABELS]
    for offset, other in enumerate(Task.objects.filter(project=project).order_by("pk")[:3]):
        services.update_task(
            project=project,
            task_id=other.pk,
            version=other.version,
            label_ids=[label.pk for label in labels[offset:]],
            priority=offset + 2,
            due_date=timezone.localdate() + dt.timedelta(days=offset * 3 - 1),
        )
    Task.objects.filter(pk__lt=task.pk + 3).update(created_at=timezone.now() - dt.timedelta(days=3))
    first_active = Task.objects.filter(task_status=active).order_by("position", "pk").first()
    column_page = f"/projects/{project.pk}/columns/{active.pk}/cards/?after={quote(queries.cursor(first_active))}"
    return {"user": user, "project": project, "columns": columns, "task": task, "column_page": column_page}


def watched(page):
    """The page, keeping its script errors and anything the Content-Security-Policy blocks in page.errors."""
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: page.errors.append(m.text) if "Content Security Policy" in m.text else None)
    return page


def open_page(browser, server, user, *, color_scheme="light", viewport=None, javascript=True):
    """A page in a fresh context whose system theme is `color_scheme`, logged in as `user` (on the
    log-in page when None)."""
    context = browser.new_context(
        viewport=viewport or {"width": 1440, "height": 900}, color_scheme=color_scheme, java_script_enabled=javascript
    )
    page = watched(context.new_page())
    page.goto(f"{server.url}/login/")
    if user is not None:
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "secret-pass")
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Your projects")
    return page


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA violations on the page as it is, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", AXE_TAGS
    )
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']} {node.get('failureSummary', '')}"
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


LABELS = [("Bug", "#b91c1c"), ("Docs", "#047857"), ("Design", "#7c3aed")]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_pages_pass_axe_in_both_themes(browser, server, board, theme):
    project, task = board["project"], board["task"]
    page = open_page(browser, server, board["user"], color_scheme=theme)
    found = {}
    urls = {
        "home": "/",
        "board": project.get_absolute_url(),
        "card page": f"{project.get_absolute_url()}cards/{task.pk}/",
        "insights": f"/projects/{project.pk}/insights/",
        "columns": f"/projects/{project.pk}/columns/",
        "a column's cards": board["column_page"],  # "Show more" followed without JavaScript
        "archived": f"/projects/{project.pk}/archived/",
        "workspace": f"/workspaces/{project.application_id}/",
        "members": f"/workspaces/{project.application_id}/members/",
        "account": "/account/",
        "labels": f"/projects/{project.pk}/labels/",
        "due this week": "/due/",
        "card editor": f"{project.get_absolute_url()}cards/{task.pk}/?edit=1",
    }
    for name, url in urls.items():
        page.goto(f"{server.url}{url}")
        assert background(page) == THEME_BG[theme]
        found[name] = serious_violations(page)

    # The card dialog, opened from the board, and a card's menu.
    page.goto(f"{server.url}{project.get_absolute_url()}")
    page.locator(f"#card-{task.pk} .card-title a").click()
    expect(page.locator("#card-dialog")).to_be_visible()
    expect(page.locator("#card-dialog .markdown table")).to_be_visible()
    found["card dialog"] = serious_violations(page)
    page.keyboard.press("Escape")
    page.locator(f"#card-{task.pk} .card-menu-button").click()
    found["card menu"] = serious_violations(page)
    page.locator("#card-menu").get_by_role("button", name="Archive").click()
    expect(page.locator("#board-messages")).to_contain_text("Archived")
    found["board message"] = serious_violations(page)
    page.context.close()

    # Logged out: the log-in page.
    page = open_page(browser, server, None, color_scheme=theme)
    found["log-in"] = serious_violations(page)
    page.context.close()
    failures = {name: lines for name, lines in found.items() if lines}
    assert failures == {}, "\n".join(f"{name}: {line}" for name, lines in failures.items() for line in lines)
    assert page.errors == []


def test_the_toggle_chooses_remembers_and_returns_to_the_system(browser, server, board):
    page = open_page(browser, server, board["user"], color_scheme="light")
    page.goto(f"{server.url}{board['project'].get_absolute_url()}")
    toggle = page.get_by_label("Colour theme")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_value("system")
    assert background(page) == LIGHT_BG

    toggle.select_option("dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert background(page) == DARK_BG
    assert page.evaluate("localStorage.getItem('tasktrack-theme')") == "dark"

    # Remembered on the next page, and in another tab of the same browser as soon as it changes.
    other = watched(page.context.new_page())
    other.goto(f"{server.url}/")
    expect(other.get_by_label("Colour theme")).to_have_value("dark")
    assert background(other) == DARK_BG
    toggle.select_option("light")
    expect(other.locator("html")).to_have_attribute("data-theme", "light")
    expect(other.get_by_label("Colour theme")).to_have_value("light")

    # Auto forgets the choice: the system's (light) theme again, also after a reload.
    toggle.select_option("system")
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile(".*"))
    assert page.evaluate("localStorage.getItem('tasktrack-theme')") is None
    page.reload()
    expect(page.get_by_label("Colour theme")).to_have_value("system")
    assert background(page) == LIGHT_BG
    page.context.close()
    assert page.errors == [] and other.errors == []


def test_a_stored_choice_is_on_the_page_before_its_first_paint(browser, server, board):
    """The theme script runs in <head>, before the stylesheet and without defer, so the first frame
    already has the chosen theme's colours: a dark choice on a light system does not flash."""
    page = open_page(browser, server, board["user"], color_scheme="light")
    page.evaluate("localStorage.setItem('tasktrack-theme', 'dark')")
    page.context.add_init_script(
        "requestAnimationFrame(() => { window.firstFrame = {"
        " theme: document.documentElement.getAttribute('data-theme'),"
        " scheme: getComputedStyle(document.documentElement).colorScheme,"
        " bg: getComputedStyle(document.body).backgroundColor }; });"
    )
    page.goto(f"{server.url}{board['project'].get_absolute_url()}")
    assert page.evaluate("window.firstFrame") == {"theme": "dark", "scheme": "dark", "bg": DARK_BG}
    order = page.evaluate(
        "[...document.head.querySelectorAll('script, link[rel=stylesheet]')]"
        ".map(el => (el.src || el.href).split('/').pop() + (el.defer || el.async ? ' later' : ''))"
    )
    assert order[:2] == ["theme.js", "app.css"]
    page.context.close()
    assert page.errors == []


def test_without_javascript_the_system_theme_applies(browser, server, board):
    for system, expected in [("light", LIGHT_BG), ("dark", DARK_BG)]:
        page = open_page(browser, server, None, color_scheme=system, javascript=False)
        expect(page.locator("h1")).to_have_text("Log in")
        assert background(page) == expected
        expect(page.locator(".theme")).to_be_hidden()  # a toggle that could do nothing is not shown
        page.context.close()


def test_board_screenshots(browser, server, board, screenshot_path):
    """The board in each theme, on a desktop and on a phone, and the dark card dialog and insights,
    for review (bench/results/screenshots/ with --update-screenshots); the phone's top bar still
    holds the toggle on one line."""
    for theme in ["light", "dark"]:
        for width, height in [(1440, 900), (390, 844)]:
            viewport = {"width": width, "height": height}
            page = open_page(browser, server, board["user"], color_scheme=theme, viewport=viewport)
            page.goto(f"{server.url}{board['project'].get_absolute_url()}")
            expect(page.locator(".card")).to_have_count(8)
            assert background(page) == THEME_BG[theme]
            assert page.locator(".topbar").bounding_box()["height"] < 60
            path = screenshot_path(f"screenshots/board-{theme}-{width}x{height}.png")
            path.parent.mkdir(exist_ok=True)
            page.screenshot(path=path)
            if theme == "dark" and width == 1440:  # the dark card dialog and insights, for review
                page.locator(f"#card-{board['task'].pk} .card-title a").click()
                expect(page.locator("#card-dialog .markdown table")).to_be_visible()
                page.screenshot(path=path.with_name("card-dialog-dark-1440x900.png"))
                page.goto(f"{server.url}/projects/{board['project'].pk}/insights/")
                expect(page.locator("#cfd svg.chart")).to_be_visible()
                page.screenshot(path=path.with_name("insights-dark-1440x900.png"), full_page=True)
            page.context.close()
            assert page.errors == []
