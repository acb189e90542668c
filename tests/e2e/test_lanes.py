"""Swimlanes (issue 16, item 11) in a real Chromium, served by daphne: the board grouped by
assignee, label or priority; a drag from one lane to another sets the attribute, the counts
follow, and a second browser sees it live."""

import re

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Membership, Task
from tests.e2e.test_theme import serious_violations
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.helpers import assert_counts_exact
from tests.support.live_support import session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

LABELS = [("Backend", "#b91c1c"), ("Docs", "#047857"), ("Design", "#7c3aed")]


@pytest.fixture
def board(transactional_db):
    """Ana's and Ben's cards, some nobody's, with labels and priorities. Made before the browser
    starts: ORM calls inside Playwright's loop would open extra connections."""
    application = ApplicationFactory(name="Acme")
    ana = MembershipFactory(
        application=application, role=Membership.Role.OWNER, user__first_name="Ana", user__last_name="Lima"
    ).user
    ben = MembershipFactory(
        application=application, role=Membership.Role.EDITOR, user__first_name="Ben", user__last_name="Okafor"
    ).user
    project = make_project(application, name="Website", key="WEB")
    columns = {column.category: column for column in project.task_statuses.order_by("position")}
    labels = [services.create_label(project=project, name=name, colour=colour) for name, colour in LABELS]
    cards = [
        ("todo", "Write release notes", ana, [1], 2),
        ("todo", "Plan billing export", ana, [0], 3),
        ("todo", "Refactor search index", ben, [0, 2], 4),
        ("active", "Design onboarding email", ben, [2], 2),
        ("active", "Fix login page", ana, [0], 4),
        ("review", "Measure API rate limits", None, [], 1),
        ("issue", "Backups fail on Sundays", ben, [0], 4),
        ("done", "Ship dark mode", ana, [2], 0),
        ("todo", "Tidy the wiki", None, [1], 0),
    ]
    tasks = {}
    for category, title, assignee, label_indexes, priority in cards:
        task = services.create_task(
            project=project, status_id=columns[category].pk, title=title, reporter=ana, assignee=assignee, at_top=False
        )
        tasks[title] = services.update_task(
            project=project,
            task_id=task.pk,
            version=task.version,
            label_ids=[labels[i].pk for i in label_indexes],
            priority=priority,
        )
    active = columns["active"]
    services.update_column(project=project, status_id=active.pk, name=active.name, category="active", wip_limit=3)
    return {
        "project": project,
        "columns": columns,
        "tasks": tasks,
        "ana": ana,
        "ben": ben,
        "labels": labels,
        "sessions": {"ana": session_cookie(ana), "ben": session_cookie(ben)},
    }


def open_board(browser, server, session, url, errors):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="light")
    context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{server.url}{url}")
    return page


def drag(page, source, target):
    """Mouse down, several moves, mouse up: what SortableJS (fallback mode) listens for."""
    start = source.bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + 20, start["y"] + start["height"] - 8)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + start["height"] - 4, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 6, steps=15)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] - 4, steps=4)
    page.mouse.up()


def cell(page, lane, column):
    return page.locator(f"#lane-{lane}-column-{column.pk}-cards")


def lane_count(page, lane):
    return page.locator(f"#lane-{lane}-count b")


def test_drag_between_assignee_lanes_reassigns_and_a_second_browser_sees_it(board, server, browser, screenshot_path):
    project, columns, tasks = board["project"], board["columns"], board["tasks"]
    ana, ben = board["ana"], board["ben"]
    todo, active = columns["todo"], columns["active"]
    errors: list[str] = []
    mine = open_board(browser, server, board["sessions"]["ana"], project.get_absolute_url(), errors)
    # The group-by control puts the grouping in the address, with the filter.
    mine.get_by_label("Group by").select_option("assignee")
    expect(mine.locator("#board-columns[data-lanes=assignee]")).to_be_visible()
    expect(mine).to_have_url(re.compile(r"[?&]lanes=assignee(&|$)"))
    expect(mine.locator("details.lane")).to_have_count(3)
    expect(mine.locator("details.lane .lane-name")).to_have_text(["Ana Lima", "Ben Okafor", "No assignee"])
    expect(lane_count(mine, ana.pk)).to_have_text("4")
    expect(lane_count(mine, ben.pk)).to_have_text("3")
    expect(lane_count(mine, "none")).to_have_text("2")
    expect(mine.locator(f"#lane-{ana.pk}-column-{todo.pk}-count")).to_contain_text("2")
    expect(mine.locator("#live")).to_have_attribute("data-state", "live")
    path = screenshot_path("screenshots/lanes-assignee-light-1440x900.png")
    path.parent.mkdir(exist_ok=True)
    mine.screenshot(path=path, caret="initial")

    theirs = open_board(
        browser, server, board["sessions"]["ben"], f"{project.get_absolute_url()}?lanes=assignee", errors
    )
    expect(theirs.locator("#live")).to_have_attribute("data-state", "live")
    expect(lane_count(theirs, ben.pk)).to_have_text("3")

    # Ana drags her "Plan billing export" (Todo) into Ben's lane, In Progress: one write sets both.
    moved = tasks["Plan billing export"]
    drag(mine, mine.locator(f"#card-{moved.pk}"), cell(mine, ben.pk, active))
    expect(cell(mine, ben.pk, active).locator(f"#card-{moved.pk}")).to_be_visible()
    expect(mine.locator(f"#card-{moved.pk} .assignee")).to_contain_text("Ben Okafor")
    expect(lane_count(mine, ana.pk)).to_have_text("3")
    expect(lane_count(mine, ben.pk)).to_have_text("4")
    expect(mine.locator(f"#lane-{ben.pk}-column-{active.pk}-count")).to_contain_text("2")
    expect(mine.locator(f"#column-{active.pk}-count .held")).to_have_text("3")  # the column counts every lane
    expect(mine.locator("#board-messages")).to_contain_text("is now assigned to Ben Okafor")

    # The other browser follows: the card in Ben's lane, the counts with it.
    expect(cell(theirs, ben.pk, active).locator(f"#card-{moved.pk}")).to_be_visible()
    expect(cell(theirs, ana.pk, todo).locator(f"#card-{moved.pk}")).to_have_count(0)
    expect(lane_count(theirs, ana.pk)).to_have_text("3")
    expect(lane_count(theirs, ben.pk)).to_have_text("4")
    expect(theirs.locator(f"#column-{active.pk}-count .held")).to_have_text("3")

    task = Task.objects.get(pk=moved.pk)
    assert (task.assignee_id, task.task_status_id, task.version) == (ben.pk, active.pk, moved.version + 1)
    assert_counts_exact(project)

    # A new card (no assignee filter: nobody's) shows in "No assignee" at once; the keyboard stays
    # in the title field for the next one.
    field = mine.locator(f"#new-card-{todo.pk}")
    field.fill("Call the printer")
    field.press("Enter")
    expect(cell(mine, "none", todo).get_by_text("Call the printer")).to_be_visible()
    expect(lane_count(mine, "none")).to_have_text("3")
    expect(mine.locator(f"#new-card-{todo.pk}")).to_be_focused()
    expect(cell(theirs, "none", todo).get_by_text("Call the printer")).to_be_visible()

    # A lane collapses, and stays collapsed after a reload.
    mine.locator(f"#lane-{ben.pk} > summary").click()
    expect(cell(mine, ben.pk, active)).to_be_hidden()
    mine.reload()
    expect(mine.locator(f"#lane-{ana.pk} .cards").first).to_be_visible()
    expect(cell(mine, ben.pk, active)).to_be_hidden()
    mine.locator(f"#lane-{ben.pk} > summary").click()
    expect(cell(mine, ben.pk, active)).to_be_visible()

    mine.context.close()
    theirs.context.close()
    assert errors == []


def test_label_and_priority_lanes_drag_and_keyboard(board, server, browser, screenshot_path):
    project, columns, tasks, labels = board["project"], board["columns"], board["tasks"], board["labels"]
    backend, docs, design = labels
    todo = columns["todo"]
    errors: list[str] = []
    page = open_board(browser, server, board["sessions"]["ana"], f"{project.get_absolute_url()}?lanes=label", errors)
    # Lanes in label order (by name); a card with several labels sits under its first one.
    expect(page.locator("details.lane .lane-title .label")).to_have_text(["Backend", "Design", "Docs"])
    refactor = tasks["Refactor search index"]  # Backend and Design: under Backend
    expect(cell(page, backend.pk, todo).locator(f"#card-{refactor.pk}")).to_be_visible()
    expect(lane_count(page, backend.pk)).to_have_text("4")
    path = screenshot_path("screenshots/lanes-label-light-1440x900.png")
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=path, caret="initial")

    # Dragged into Docs: Backend is replaced by Docs, Design stays; it now shows under Design
    # (its first label by name), and the message says so.
    drag(page, page.locator(f"#card-{refactor.pk}"), cell(page, docs.pk, todo))
    expect(page.locator("#board-messages")).to_contain_text("now carries “Docs”")
    expect(page.locator("#board-messages")).to_contain_text("lane of “Design”")
    expect(cell(page, design.pk, todo).locator(f"#card-{refactor.pk}")).to_be_visible()
    expect(lane_count(page, backend.pk)).to_have_text("3")
    task = Task.objects.get(pk=refactor.pk)
    assert sorted(task.label_ids) == sorted([docs.pk, design.pk])

    # Priority lanes: Shift+Up at the top of a lane's cell moves the card into the lane above.
    page.get_by_label("Group by").select_option("priority")
    expect(page.locator("#board-columns[data-lanes=priority]")).to_be_visible()
    expect(page.locator("details.lane")).to_have_count(5)
    billing = tasks["Plan billing export"]  # high (3), alone in Todo's high cell
    expect(cell(page, 3, todo).locator(".card")).to_have_count(1)
    page.locator(f"#card-{billing.pk}").focus()
    page.keyboard.press("Shift+ArrowUp")
    expect(cell(page, 4, todo).locator(f"#card-{billing.pk}")).to_be_visible()
    expect(page.locator(f"#card-{billing.pk}")).to_be_focused()
    expect(lane_count(page, 4)).to_have_text("4")
    expect(page.locator("#board-announcer")).to_contain_text("Urgent in Todo")
    assert Task.objects.get(pk=billing.pk).priority == 4
    path = screenshot_path("screenshots/lanes-priority-light-1440x900.png")
    page.screenshot(path=path, caret="initial")
    assert_counts_exact(project)
    # The grouped board passes axe-core's WCAG 2 AA checks, as the plain one does (test_theme).
    assert serious_violations(page) == []
    page.context.close()
    assert errors == []


def test_without_javascript_grouping_is_a_get_form(board, server, browser):
    project = board["project"]
    context = browser.new_context(viewport={"width": 1440, "height": 900}, java_script_enabled=False)
    context.add_cookies([{"name": "sessionid", "value": board["sessions"]["ana"], "url": server.url}])
    page = context.new_page()
    page.goto(f"{server.url}{project.get_absolute_url()}?q=e")
    page.get_by_label("Group by").select_option("priority")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"\?q=e&.*lanes=priority"))
    expect(page.locator("details.lane")).to_have_count(5)
    page.goto(f"{server.url}{project.get_absolute_url()}?lanes=swim")
    expect(page.locator("body")).to_contain_text("Group the board by assignee, label or priority")
    context.close()
