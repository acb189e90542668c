"""Webhooks in real Chromium: an owner adds one from the board, sends a test, and reads the
result in the delivery log (issue 15, item 4). The receiver is the test's own, on loopback."""

import threading

import pytest
from playwright.sync_api import expect

from boards.models import Membership
from tests.e2e.test_dialog import open_board
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.queue import empty_queue, run_queued_jobs
from tests.support.webhook_receiver import serving
from webhooks.models import Webhook

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def board(transactional_db):
    empty_queue()
    application = ApplicationFactory(name="Acme")
    ada = MembershipFactory(application=application, role=Membership.Role.OWNER, user__first_name="Ada").user
    project = make_project(application, name="Website", key="WEB")
    yield {"project": project, "ada": ada}
    empty_queue()


@pytest.fixture
def receiver():
    with serving("127.0.0.1") as receiver:
        yield receiver


def run_worker_beside_playwright():
    # Playwright's loop holds this thread: the worker runs its own on another one.
    thread = threading.Thread(target=run_queued_jobs)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()


def test_add_a_webhook_send_a_test_and_read_the_log(board, server, browser, receiver, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # for the worker here, to reach the receiver
    errors: list[str] = []
    page = open_board(browser, server, board["ada"], board["project"], errors)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()

    # The server's form refuses a loopback address written out (its setting is off)...
    page.get_by_label("Payload URL").fill(receiver.url())
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhook-errors")).to_contain_text("loopback")
    # ... while a name is checked when each delivery is made.
    page.get_by_label("Payload URL").fill(receiver.url().replace("127.0.0.1", "localhost"))
    page.get_by_role("checkbox", name="All events").uncheck()
    page.get_by_role("checkbox", name="moved", exact=True).check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("heading", name="Webhook", exact=True)).to_be_visible()
    webhook = Webhook.objects.get()
    expect(page.locator("#webhook-secret")).to_have_text(webhook.secret)
    assert webhook.events == ["moved"]

    page.get_by_role("button", name="Send test").click()
    expect(page.locator(".flash")).to_contain_text("Queued a test delivery")
    run_worker_beside_playwright()
    page.reload()
    row = page.locator("#delivery-log tbody tr").first
    expect(row).to_contain_text("ping")
    expect(row).to_contain_text("delivered")
    expect(row).to_contain_text("200")
    (request,) = receiver.requests
    assert request.headers["X-Tasktrack-Event"] == "ping"
    # The refused form's page came with its 422 status, which Chromium logs; nothing else may be.
    assert [error for error in errors if "status of 422" not in error] == [], errors
    assert len(errors) <= 1
