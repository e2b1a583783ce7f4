"""Screenshots of every web UI page for docs/images/, over a realistic scenario.

Run `.venv/bin/python -m tests.browser.screenshots` (needs /usr/bin/chromium, and Debian's
`fonts-noto-color-emoji` for the emoji in blocked messages). It starts the fake
provider and Luthien on loopback with a temporary database, makes calls through the proxy
(`tests.browser.scenario`), and captures each page in the light and dark themes, in a narrow window,
and the live feed holding 1,000 rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

from luthien.settings import Settings
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS
from tests.browser.scenario import (
    CONFIG,
    SHADOW_CONFIG,
    chat_calls,
    cleanup_session,
    judge_reply,
    long_arguments_turn,
)
from tests.fake_provider import FakeProvider
from tests.support.admin_client import wait_for_record
from tests.support.servers import LuthienServer

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
WIDE: ViewportSize = {"width": 1440, "height": 900}
NARROW: ViewportSize = {"width": 420, "height": 900}
ADMIN_KEY = "screenshot-admin-key"
Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")


def settings(fake: FakeProvider, database: Path, **overrides: object) -> Settings:
    return Settings.model_validate(
        {
            "anthropic_base_url": fake.base_url,
            "openai_base_url": f"{fake.base_url}/v1",
            "database_url": f"sqlite:///{database}",
            "allow_policy_header": True,
            **overrides,
        }
    )


def shot(page: Page, name: str, full_page: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=full_page)
    print(f"docs/images/{name}.png")


def capture_pages(browser: Browser, base: str, blocked: str, changed: str, theme: Theme) -> None:
    context = browser.new_context(viewport=WIDE, color_scheme=theme)
    page = context.new_page()
    page.goto(f"{base}/ui/history")
    shot(page, f"history-{theme}")
    page.goto(f"{base}/ui/transactions/{blocked}")
    shot(page, f"transaction-blocked-{theme}", full_page=True)
    page.goto(f"{base}/ui/transactions/{changed}")
    shot(page, f"transaction-changed-{theme}")
    page.goto(f"{base}/ui/sessions/agent-cleanup-1")
    shot(page, f"session-{theme}", full_page=True)
    page.goto(f"{base}/ui/sessions")
    shot(page, f"sessions-{theme}")
    page.goto(f"{base}/ui/policies")
    shot(page, f"policies-{theme}")
    context.close()


def capture_replays(browser: Browser, base: str, session: str) -> None:
    """A replay of one agent session through `shout` (it blocks nothing): the run and the list."""
    started = httpx.post(f"{base}/api/replays", json={"policy": "shout", "session": session}, timeout=30)
    run = started.json()["id"]
    for theme in THEMES:
        context = browser.new_context(viewport=WIDE, color_scheme=theme)
        page = context.new_page()
        page.goto(f"{base}/ui/replays/{run}")
        expect(page.locator(".head-badges .badge")).to_have_text("completed")
        shot(page, f"replay-{theme}", full_page=True)
        page.goto(f"{base}/ui/replays")
        shot(page, f"replays-{theme}")
        context.close()


def capture_empty(browser: Browser, base: str) -> None:
    context = browser.new_context(viewport=WIDE, color_scheme="light")
    page = context.new_page()
    page.goto(f"{base}/ui/activity")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    shot(page, "activity-empty")
    page.goto(f"{base}/ui/sessions")
    shot(page, "sessions-empty")
    context.close()


def open_monitors(browser: Browser, base: str) -> list[tuple[Theme, BrowserContext, Page]]:
    """Live feeds open before the calls, so they show what a watching engineer sees (verdicts too)."""
    monitors: list[tuple[Theme, BrowserContext, Page]] = []
    for theme in THEMES:
        context = browser.new_context(viewport=WIDE, color_scheme=theme)
        page = context.new_page()
        page.goto(f"{base}/ui/activity")
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        monitors.append((theme, context, page))
    return monitors


def capture_monitors(monitors: list[tuple[Theme, BrowserContext, Page]], last: str) -> None:
    for theme, context, page in monitors:
        expect(page.locator(f"#feed-body a[href='/ui/transactions/{last}']")).to_be_visible()
        shot(page, f"activity-{theme}")
        context.close()


def capture_long(browser: Browser, base: str, transaction: str) -> None:
    """A long model name and a long one-line tool argument, wide and narrow."""
    for name, viewport in (("long-arguments", WIDE), ("long-arguments-narrow", NARROW)):
        context = browser.new_context(viewport=viewport, color_scheme="dark")
        page = context.new_page()
        page.goto(f"{base}/ui/sessions/agent-archive")
        shot(page, f"session-{name}", full_page=True)
        page.goto(f"{base}/ui/transactions/{transaction}")
        shot(page, f"transaction-{name}")
        context.close()


def capture_narrow(browser: Browser, base: str, blocked: str) -> None:
    context = browser.new_context(viewport=NARROW, color_scheme="light")
    page = context.new_page()
    page.goto(f"{base}/ui/activity")
    expect(page.locator("#feed-body .feed-row").first).to_be_visible()
    shot(page, "activity-narrow")
    page.goto(f"{base}/ui/transactions/{blocked}")
    shot(page, "transaction-narrow")
    context.close()


def capture_thousand(browser: Browser, base: str, fake: FakeProvider) -> None:
    context = browser.new_context(viewport=WIDE, color_scheme="dark")
    page = context.new_page()
    page.goto(f"{base}/ui/activity")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    chat_calls(base, fake, 1000, prefix="Load")
    expect(page.locator("#feed-body .feed-row")).to_have_count(1000, timeout=120_000)
    shot(page, "activity-1000-rows")
    context.close()


def capture_login(browser: Browser, fake: FakeProvider, database: Path) -> None:
    server = LuthienServer(settings(fake, database, admin_key=ADMIN_KEY), CONFIG).start()
    try:
        for theme in THEMES:
            context = browser.new_context(viewport=WIDE, color_scheme=theme)
            page = context.new_page()
            page.goto(f"{server.base_url}/ui/activity")
            shot(page, f"login-{theme}")
            context.close()
    finally:
        server.stop()


def capture_shadow(browser: Browser, fake: FakeProvider, database: Path) -> None:
    """A call the shadow judge would have blocked while nothing was enforced, in both themes."""
    server = LuthienServer(settings(fake, database), SHADOW_CONFIG).start()
    try:
        transaction = cleanup_session(server.base_url, fake, "agent-shadow")[1]
        wait_for_record(server.base_url, transaction)
        for theme in THEMES:
            context = browser.new_context(viewport=WIDE, color_scheme=theme)
            page = context.new_page()
            page.goto(f"{server.base_url}/ui/transactions/{transaction}")
            expect(page.locator("#shadows .shadow-outcome")).to_have_text("would have blocked")
            # Below the sticky header: the section's heading shows.
            page.evaluate("window.scrollTo(0, document.getElementById('shadows').offsetTop - 90)")
            shot(page, f"transaction-shadow-{theme}")
            context.close()
    finally:
        server.stop()


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, FakeProvider() as fake, sync_playwright() as driver:
        fake.respond_with(judge_reply)
        server = LuthienServer(settings(fake, Path(scratch) / "records.db"), CONFIG).start()
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            base = server.base_url
            capture_empty(browser, base)
            monitors = open_monitors(browser, base)
            chat_calls(base, fake, 12)
            long_call = long_arguments_turn(base, fake, "agent-archive")
            blocked = ""
            for index in range(1, 4):
                blocked = cleanup_session(base, fake, f"agent-cleanup-{index}")[1]
                chat_calls(base, fake, 3, prefix=f"Explain module {index}")
            changed = chat_calls(base, fake, 1)[0]
            capture_monitors(monitors, changed)
            wait_for_record(base, blocked)
            wait_for_record(base, changed)
            wait_for_record(base, long_call)
            for theme in THEMES:
                capture_pages(browser, base, blocked, changed, theme)
            capture_long(browser, base, long_call)
            capture_replays(browser, base, "agent-cleanup-1")
            capture_narrow(browser, base, blocked)
            capture_thousand(browser, base, fake)
            capture_login(browser, fake, Path(scratch) / "login.db")
            capture_shadow(browser, fake, Path(scratch) / "shadow.db")
        finally:
            browser.close()
            server.stop()


if __name__ == "__main__":
    main()
