"""Real-browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Without /usr/bin/chromium the browser tests are skipped locally and fail in CI's service pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_service

CHROMIUM = Path(os.environ.get("CX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FACTORY_PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def sign_in(page, username: str, *, password: str = FACTORY_PASSWORD, next_url: str = "") -> None:
    """Sign in through the form; waits for `next_url` when given, else for the page the form leads to."""
    page.goto("/accounts/login/" + (f"?next={next_url}" if next_url else ""))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.locator("main").get_by_role("button", name="Sign in").click()
    if next_url:
        page.wait_for_url(f"**{next_url}")
    else:
        page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.fixture(scope="session")
def browser(django_db_setup, django_db_blocker) -> Iterator:
    if not CHROMIUM.exists():
        require_service(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    # Generous waits: CI machines run the suite under load, and a slow answer is not a broken page.
    expect.set_options(timeout=15_000)

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageWatch:
    """Collects what a page did wrong: console errors, failed requests, requests that leave the app (a CDN)."""

    def __init__(self, page, base_url: str) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on(
            "request",
            lambda req: None if req.url.startswith((base_url, "data:", "about:")) else self.problems.append(f"off-site request: {req.url}"),
        )
        page.on("requestfailed", self._failed)

    def _failed(self, request) -> None:
        # A request still running when the page navigates away is cancelled by the browser: not a fault.
        if "ERR_ABORTED" not in (request.failure or ""):
            self.problems.append(f"failed: {request.url} {request.failure}")

    def _console(self, message) -> None:
        # A form answered with 422/409 is the page working as designed; server errors (5xx) are not.
        if message.type == "error" and "responded with a status of 4" not in message.text:
            self.problems.append(f"console: {message.text}")


def _page(browser, live_server, viewport: dict) -> Iterator:
    context = browser.new_context(viewport=viewport, base_url=live_server.url, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.watch = PageWatch(page, live_server.url)
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser, live_server) -> Iterator:
    yield from _page(browser, live_server, DESKTOP)


@pytest.fixture
def phone_page(browser, live_server) -> Iterator:
    yield from _page(browser, live_server, PHONE)
