"""Playwright driving Debian's Chromium (`/usr/bin/chromium`, installed by `make test`).

Playwright never downloads a browser here. Without the binary the browser tests are skipped, except in
CI (`CI` set), where a missing browser is a failure. Each test gets a fresh browser context; a page
records dialogs and Content-Security-Policy violations so tests can assert none happened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ACTION_TIMEOUT_MS = 15_000
"""Playwright's wait for a selector or navigation; never reached when the page works."""


# Package scope, not session: while Playwright's sync driver is open it holds a running event loop
# in the main thread, and the async tests that run after this package need that thread free.
@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
    yield browser
    browser.close()


@dataclass
class PageWatch:
    """What a page did that a user would notice, or should never happen."""

    dialogs: list[str] = field(default_factory=list[str])
    csp_violations: list[str] = field(default_factory=list[str])
    errors: list[str] = field(default_factory=list[str])

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def on_error(self, error: Exception) -> None:
        self.errors.append(str(error))


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(context: BrowserContext, watch: PageWatch) -> Page:
    page = context.new_page()
    page.on("dialog", watch.on_dialog)
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_error)
    return page
