"""An import in a real Chromium: upload a Trello export, confirm the preview, and watch the
progress page (htmx polling) turn into a link to the new board once the real worker has run."""

import threading
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect

from boards.models import Membership
from imports.models import ImportJob
from tests.factories import ApplicationFactory, MembershipFactory
from tests.support.queue import empty_queue, run_queued_jobs

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIXTURE = Path(__file__).resolve().parents[1] / "imports" / "fixtures" / "trello_board.json"


@pytest.fixture
def owner(db, close_db_pool):
    empty_queue()
    application = ApplicationFactory(name="Acme")
    yield MembershipFactory(application=application, role=Membership.Role.OWNER).user
    empty_queue()


def work() -> None:
    try:
        run_queued_jobs()
    finally:
        connections.close_all()


def test_import_a_trello_board(browser, live_server, owner):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your projects")

    application = owner.memberships.get().application
    page.goto(f"{live_server.url}/workspaces/{application.pk}/")
    page.get_by_role("link", name="Import…").click()
    page.get_by_label("Trello board export (JSON)").check()
    page.set_input_files("input[type=file]", str(FIXTURE))
    page.get_by_role("button", name="Read the file").click()
    expect(page.locator("#import-counts")).to_contain_text("8 card(s), 5 label(s)")
    page.fill("input[name=key]", "SHED")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-phase")).to_contain_text("Waiting for a worker")

    # The worker on a thread of its own: Playwright keeps an event loop on this one.
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    done = page.locator("#import-done")
    expect(done).to_contain_text("Imported 8 card(s)")  # the page polled and saw the end
    expect(page.locator("#import-percent")).to_have_text("100%")
    job = ImportJob.objects.get()
    done.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}{job.project.get_absolute_url()}")
    expect(page.locator("#board")).to_contain_text("Buy timber")
    assert errors == []
    context.close()
