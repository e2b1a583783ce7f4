"""The transaction page shows what a shadow policy would have done, against what was sent."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch
from tests.browser.scenario import SHADOW_CONFIG, cleanup_session, judge_reply
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.admin_client import wait_for_record


def test_the_transaction_page_shows_the_shadow_verdict_and_its_diff(
    make_luthien: LuthienFactory, fake: FakeProvider, page: Page, watch: PageWatch
) -> None:
    fake.respond_with(judge_reply)
    server = make_luthien(config=SHADOW_CONFIG)
    allowed, would_block = cleanup_session(server.base_url, fake, "agent-shadow")
    wait_for_record(server.base_url, would_block)
    wait_for_record(server.base_url, allowed)

    page.goto(f"{server.base_url}/ui/transactions/{would_block}")

    shadow = page.locator("#shadows .shadow-result")
    expect(shadow).to_have_count(1)
    expect(shadow).to_have_attribute("data-shadow", "judge")
    expect(shadow.locator(".shadow-outcome")).to_have_text("would have blocked")
    expect(shadow.locator(".shadow-event").first).to_contain_text("judge.decision")
    expect(shadow.locator(".diff-table tbody tr").first).to_be_visible()
    expect(shadow.locator(".diff-table")).to_contain_text("Blocked tool call")
    # What the client got was not changed: the tool call was sent.
    expect(page.locator("#response h2")).to_contain_text("unchanged")

    page.goto(f"{server.base_url}/ui/transactions/{allowed}")
    expect(page.locator("#shadows .shadow-outcome")).to_have_text("same as sent")

    page.goto(f"{server.base_url}/ui/policies")
    expect(page.locator("[data-policy=judge] .shadow-badge")).to_be_visible()
    page.locator("[data-policy=judge] form[action='/ui/policies/shadow'] button").click()
    expect(page.locator("[data-policy=judge] .shadow-badge")).to_have_count(0)
    assert watch.csp_violations == []
    assert watch.errors == []
