"""Debian's Chromium driven by Playwright: the one launch every browser test shares."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.live_support import Daphne

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # this machine's network is closed: no update checks
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def _orm_beside_playwright():
    # Playwright's sync API keeps an event loop on this thread while the browser is open; the ORM
    # calls of the tests and of the database teardown are still synchronous and safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_orm_beside_playwright):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_path(request):
    """Where a test saves a screenshot named `name`: test-artifacts/screenshots/ (ignored by git),
    so a run leaves the work tree clean; with --update-screenshots, bench/results/, the committed
    pictures of the board and the insights page."""
    if request.config.getoption("--update-screenshots"):
        folder = ROOT / "bench" / "results"
    else:
        folder = ROOT / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: folder / name


@pytest.fixture
def server():
    """daphne, as in production, on a port of its own: the board's socket, presence and live push are real."""
    daphne = Daphne()
    try:
        daphne.wait_ready()
        yield daphne
    finally:
        daphne.stop()
