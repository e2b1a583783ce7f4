"""The replay pages in Chromium: starting a run from the form, and a run's disagreements side by side.

Calls of an agent session are recorded under the scenario's `guarded` policy (its judge blocks the
destructive delete); the form replays them through `shout`, which blocks nothing and capitalises.
Waits are Playwright's (`expect` polls until its timeout); nothing asserts on timings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch
from tests.browser.scenario import CONFIG, cleanup_session, judge_reply
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.admin_client import wait_for_record
from tests.support.servers import LuthienServer

SESSION = "agent-replay"


@pytest.fixture
def server(make_luthien: LuthienFactory, fake: FakeProvider) -> LuthienServer:
    fake.respond_with(judge_reply)
    server = make_luthien(config=CONFIG)
    for transaction in cleanup_session(server.base_url, fake, SESSION):
        wait_for_record(server.base_url, transaction)
    return server


def test_a_replay_started_from_the_form_shows_each_disagreement_side_by_side(
    server: LuthienServer, page: Page, watch: PageWatch, tmp_path: Path
) -> None:
    page.goto(f"{server.base_url}/ui/replays")
    expect(page.get_by_role("link", name="Replays")).to_have_attribute("aria-current", "page")
    page.locator("select[name=policy]").select_option("shout")
    page.get_by_label("Session").fill(SESSION)
    page.get_by_role("button", name="Start replay").click()

    expect(page).to_have_url(re.compile(r"/ui/replays/[0-9a-f]{32}$"))
    expect(page.locator(".head-badges .badge")).to_have_text("completed")
    expect(page.locator("[data-total=seen]")).to_have_text("2")
    expect(page.locator("[data-total=newly_allowed]")).to_have_text("1")
    cards = page.locator("article.disagreement")
    expect(cards).to_have_count(2)
    delete = cards.nth(1)
    expect(delete.locator(".badge.status-ok")).to_have_text("newly allowed Bash#toolu_bash_2")
    expect(delete.get_by_label("recorded response")).to_contain_text("Blocked tool call")
    expect(delete.get_by_label("replayed response")).to_contain_text("rm -rf ~/ /work/app/build")
    expect(delete.locator(".pane .m-changed, .pane .m-added, .pane .m-removed").first).to_be_visible()

    delete.get_by_label("Changed lines only").check()
    expect(delete.locator(".side-by-side")).to_have_class("side-by-side only-changes")
    page.screenshot(path=str(tmp_path / "replay.png"), full_page=True)

    page.goto(f"{server.base_url}/ui/replays")
    row = page.locator("table.data tbody tr").first
    expect(row).to_contain_text("shout")
    expect(row).to_contain_text("2 / 2")
    assert watch.csp_violations == []
    assert watch.errors == []
    assert watch.dialogs == []
