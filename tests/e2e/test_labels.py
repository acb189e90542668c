"""Labels and a due date in real Chromium: set them in the card dialog, see them on the card face,
filter the board by a label (issue 14)."""

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Membership, Task
from tests.e2e.test_dialog import open_board, open_card
from tests.factories import ApplicationFactory, MembershipFactory, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def board(transactional_db):
    """Made before the browser starts: ORM calls inside Playwright's loop would open extra connections."""
    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ada").user
    project = make_project(application, name="Website", key="WEB")
    todo = project.task_statuses.order_by("position").first()
    task = services.create_task(project=project, status_id=todo.pk, title="Fix the login bug", reporter=ada)
    other = services.create_task(project=project, status_id=todo.pk, title="Write the docs", reporter=ada)
    bug = services.create_label(project=project, name="Bug", colour="#b91c1c")
    services.create_label(project=project, name="Docs", colour="#047857")
    return {"project": project, "task": task, "other": other, "ada": ada, "bug": bug}


def test_labels_and_due_date_in_the_dialog_then_filter_by_label(board, server, browser):
    project, task, other = board["project"], board["task"], board["other"]
    errors: list[str] = []
    page = open_board(browser, server, board["ada"], project, errors)
    dialog = open_card(page, task)
    dialog.get_by_role("link", name="Edit").click()
    dialog.get_by_role("checkbox", name="Bug").check()
    dialog.get_by_label("Priority").select_option(label="High")
    dialog.get_by_label("Due date").fill("2020-01-31")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator(".message.shown")).to_contain_text("Saved.")

    face = page.locator(f"#card-{task.pk}")
    expect(face.locator(".label.label-b91c1c")).to_have_text("Bug")
    expect(face.locator(".due.due-overdue")).to_contain_text("31 Jan")
    expect(face.locator(".priority.priority-3")).to_be_visible()
    dialog.locator("form[method=dialog] button").first.click()

    page.locator(".filter-labels summary").click()
    page.locator(".filter-labels").get_by_role("checkbox", name="Bug").check()
    expect(page.locator(f"#card-{other.pk}")).to_have_count(0)
    expect(face).to_be_visible()
    expect(page.locator(".column-count .matching").first).to_have_text("1 match")
    assert f"label={board['bug'].pk}" in page.url
    stored = Task.objects.get(pk=task.pk)
    assert (stored.label_ids, stored.priority, str(stored.due_date)) == ([board["bug"].pk], 3, "2020-01-31")
    assert not errors, errors
