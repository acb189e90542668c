"""The insights page in a real Chromium: its SVG charts render and show the data."""

import datetime as dt
import random

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from boards import insights
from boards.models import Membership, Project, ProjectDailySnapshot
from tests.boards.test_insights import Board
from tests.factories import ApplicationFactory, MembershipFactory, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FLOW = ["todo", "active", "review", "done"]


@pytest.fixture
def project_with_history(db):
    """Sixty days of work on 40 cards, every step dated by hand; snapshots on the older days."""
    application = ApplicationFactory(name="Acme")
    user = MembershipFactory(application=application, role=Membership.Role.VIEWER, user__first_name="Vic").user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    rng = random.Random(7)
    now = timezone.now()
    board = Board(project, columns, user)
    for n in range(40):
        when = now - dt.timedelta(days=rng.uniform(5, 60))
        task = board.create(f"Card {n}", "todo", when)
        for category in FLOW[1 : rng.randint(1, 4)]:
            when += dt.timedelta(days=rng.uniform(0.2, 4))
            if when >= now:
                break
            board.move(task, category, when)
    # Snapshots on some older days (as the daily command would have taken them); the page
    # rebuilds the other days from the log.
    project = Project.objects.select_related("status_aggregation").get(pk=project.pk)
    today = timezone.localdate()
    for day, counts in insights.cumulative_flow(project, 60):
        if (today - day).days >= 30 and day.toordinal() % 3 == 0:
            ProjectDailySnapshot.objects.create(
                project=project, date=day, taken_at=now, **{f"{c}_tasks": n for c, n in counts.items()}
            )
    return {"user": user, "project": project}


def test_insights_charts_render(browser, live_server, project_with_history, screenshot_path):
    project, user = project_with_history["project"], project_with_history["user"]
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/projects/{project.pk}/insights/?days=60")

    expect(page.locator("h1")).to_have_text("WEB Website · Insights")
    cfd = page.locator("#cfd svg.chart")
    expect(cfd).to_be_visible()
    expect(cfd.locator("polygon.area")).to_have_count(5)
    box = cfd.bounding_box()
    assert box["width"] > 600 and box["height"] > 200
    # The stacked areas have drawn something: the done area is not a flat line.
    done_box = cfd.locator("polygon.area").first.bounding_box()
    assert done_box["height"] > 10
    expect(page.locator("#cfd .legend li")).to_have_count(5)
    for section in ["#lead", "#cycle", "#throughput", "#ages"]:
        expect(page.locator(f"{section} svg.chart")).to_be_visible()
    assert page.locator("#lead rect.bar").count() == 11
    heights = [
        float(h)
        for h in page.locator("#throughput rect.bar").evaluate_all("bars => bars.map(b => b.getAttribute('height'))")
    ]
    assert sum(heights) > 0
    expect(page.locator("#lead .stat")).to_contain_text("median")

    # A bad range says what is wrong.
    page.goto(f"{live_server.url}/projects/{project.pk}/insights/?days=3")
    expect(page.locator(".error")).to_contain_text("from 7 to 365")

    page.goto(f"{live_server.url}/projects/{project.pk}/insights/?days=60")
    expect(cfd).to_be_visible()
    page.screenshot(path=str(screenshot_path("insights.png")), full_page=True)
    context.close()
    assert errors == []
