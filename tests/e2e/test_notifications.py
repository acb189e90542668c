"""Notifications in the browser: Bob comments on Ada's card; the worker runs; Ada's bell shows 1
on her open board without a reload; she opens the list, then the notification, which takes her
to the card and clears the bell."""

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from boards import services
from boards.models import Membership
from tests.e2e.test_dialog import open_board, open_card
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.queue import empty_queue, run_queued_jobs

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def run_worker() -> None:
    """procrastinate's worker on a thread of its own: Playwright's loop holds this one."""

    def work():
        try:
            run_queued_jobs()
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()


@pytest.fixture
def board(transactional_db):
    """Made before the browser starts: ORM calls inside Playwright's loop would open extra connections."""
    empty_queue()
    application = ApplicationFactory(name="Acme")
    ada, bob = (
        MembershipFactory(
            application=application, role=role, user__username=name, user__first_name=name.title(), user__last_name=last
        ).user
        for name, last, role in (("ada", "Lovelace", Membership.Role.OWNER), ("bob", "Marley", Membership.Role.EDITOR))
    )
    project = make_project(application, name="Website", key="WEB")
    todo = project.task_statuses.order_by("position").first()
    task = services.create_task(project=project, status_id=todo.pk, title="Ship notifications", reporter=ada)
    run_worker()  # Ada watches the card she made
    yield {"project": project, "task": task, "ada": ada, "bob": bob}
    empty_queue()


def test_a_comment_rings_the_card_owners_bell_live(board, server, browser):
    project, task = board["project"], board["task"]
    errors: list[str] = []
    ada = open_board(browser, server, board["ada"], project, errors)
    bob = open_board(browser, server, board["bob"], project, errors)
    bell = ada.locator("#notify-bell")
    expect(bell).to_have_attribute("hx-trigger", "every 120s")  # loaded its count
    expect(bell.locator(".bell-count")).to_have_count(0)

    dialog = open_card(bob, task)
    expect(dialog.get_by_role("button", name="Watch", exact=True)).to_be_visible()  # Bob does not watch it yet
    dialog.locator(f"#comment-new-{task.pk}").fill("Done on my side")
    dialog.get_by_role("button", name="Comment", exact=True).click()
    expect(dialog.locator(".comment")).to_have_count(1)
    expect(dialog.get_by_role("button", name="Watch", exact=True)).to_be_visible()  # the worker has not run
    run_worker()

    expect(bell.locator(".bell-count")).to_have_text("1")
    expect(bob.locator("#notify-bell .bell-count")).to_have_count(0)  # not told of his own comment
    bell.click()
    expect(ada).to_have_url(f"{server.url}/notifications/")
    item = ada.locator(".notification.unread")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Bob Marley commented on WEB-1 Ship notifications")
    expect(item).to_contain_text("Done on my side")
    item.get_by_role("link").click()
    # Through the permalink /WEB-1/ to the card's page.
    expect(ada).to_have_url(f"{server.url}/projects/{project.pk}/cards/{task.pk}/")
    expect(ada.locator(f"#card-{task.pk}-detail")).to_be_visible()
    expect(ada.locator("#notify-bell")).to_have_attribute("hx-trigger", "every 120s")
    expect(ada.locator("#notify-bell .bell-count")).to_have_count(0)
    assert errors == []
