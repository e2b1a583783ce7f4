"""The monitor pages in Chromium, over calls made through the proxy to the fake provider.

Waits are Playwright's (`expect` polls the page until its timeout); nothing asserts on timings.
"""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch
from tests.browser.scenario import CONFIG, XSS, chat_calls, cleanup_session, judge_reply, xss_turn
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.admin_client import wait_for_record
from tests.support.servers import LuthienServer

FEED_ROWS = "#feed-body .feed-row:not(.feed-notice)"


@pytest.fixture
def server(make_luthien: LuthienFactory, fake: FakeProvider) -> LuthienServer:
    fake.respond_with(judge_reply)
    return make_luthien(config=CONFIG, allow_policy_header=True)


def open_live(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_calls_made_through_the_proxy_appear_in_the_live_monitor(
    server: LuthienServer, fake: FakeProvider, page: Page, watch: PageWatch
) -> None:
    open_live(page, f"{server.base_url}/ui/activity")

    chat = chat_calls(server.base_url, fake, 1)[0]
    session = cleanup_session(server.base_url, fake, "agent-live")

    rows = page.locator(FEED_ROWS)
    expect(rows).to_have_count(3)
    newest = rows.first
    expect(newest).to_have_attribute("href", f"/ui/transactions/{session[1]}")
    expect(newest.locator(".badge")).to_have_text("blocked")
    expect(newest).to_have_class("feed-row is-blocked")
    expect(newest.locator(".tools")).to_contain_text("Bash")
    expect(newest.locator(".verdict.is-blocked")).to_contain_text("blocked")
    expect(rows.last).to_have_attribute("href", f"/ui/transactions/{chat}")
    expect(rows.last.locator(".model")).to_have_text("claude-haiku-4-5")
    assert watch.csp_violations == []
    assert watch.errors == []


def test_blocked_only_filters_the_feed_and_lives_in_the_url(
    server: LuthienServer, fake: FakeProvider, page: Page
) -> None:
    chat_calls(server.base_url, fake, 2)
    blocked = cleanup_session(server.base_url, fake, "agent-filter")[1]
    wait_for_record(server.base_url, blocked)
    open_live(page, f"{server.base_url}/ui/activity")
    expect(page.locator(FEED_ROWS)).to_have_count(4)

    page.get_by_text("Blocked only").click()

    expect(page).to_have_url(f"{server.base_url}/ui/activity?blocked=true")
    expect(page.locator(FEED_ROWS)).to_have_count(1)
    expect(page.locator(FEED_ROWS).first).to_have_attribute("href", f"/ui/transactions/{blocked}")
    expect(page.locator("#active-filters")).to_contain_text("blocked only")

    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    chat_calls(server.base_url, fake, 1)
    newer = cleanup_session(server.base_url, fake, "agent-filter-2")[1]
    expect(page.locator(FEED_ROWS).first).to_have_attribute("href", f"/ui/transactions/{newer}")
    expect(page.locator(FEED_ROWS)).to_have_count(2)

    # A reloaded page starts from the stored records: the live event can precede the write.
    wait_for_record(server.base_url, newer)
    page.reload()
    expect(page.get_by_role("checkbox", name="Blocked only")).to_be_checked()
    expect(page.locator(FEED_ROWS)).to_have_count(2)


def test_pausing_counts_events_and_applies_them_on_resume(
    server: LuthienServer, fake: FakeProvider, page: Page
) -> None:
    open_live(page, f"{server.base_url}/ui/activity")
    page.click("#pause")

    chat_calls(server.base_url, fake, 2)

    expect(page.locator("#pause")).to_contain_text("new)")
    expect(page.locator(FEED_ROWS)).to_have_count(0)
    page.click("#pause")
    expect(page.locator(FEED_ROWS)).to_have_count(2)
    expect(page.locator("#pause")).to_have_text("Pause")


def test_a_transaction_shows_the_diff_and_the_verdict(
    server: LuthienServer, fake: FakeProvider, page: Page
) -> None:
    blocked = cleanup_session(server.base_url, fake, "agent-diff")[1]
    wait_for_record(server.base_url, blocked)

    page.goto(f"{server.base_url}/ui/transactions/{blocked}")

    expect(page.locator(".head-badges .badge").first).to_have_text("blocked")
    diff_rows = page.locator("#response .diff-table tbody tr")
    expect(diff_rows.filter(has_text="/content/1/input")).to_contain_text("removed")
    removed = page.locator("#response .pane").first.locator(".m-removed")
    added = page.locator("#response .pane").last.locator(".m-added")
    expect(removed.filter(has_text="rm -rf ~/")).to_have_count(1)
    expect(added.filter(has_text="Blocked tool call")).to_have_count(1)
    expect(page.locator(".decision.is-blocked")).to_contain_text("Deletes files outside the workspace")
    expect(page.locator(".blocked-message strong").first).to_contain_text("Blocked tool call")
    expect(page.locator(".blocked-message pre code")).to_contain_text(
        '"command": "rm -rf ~/ /work/app/build"'
    )

    page.check("input.only-changes[data-target=response-panes]")
    expect(page.locator("#response-panes .l").filter(has_text='"model"').first).to_be_hidden()


def test_a_session_timeline_shows_the_blocked_tool_call(
    server: LuthienServer, fake: FakeProvider, page: Page
) -> None:
    turns = cleanup_session(server.base_url, fake, "agent-timeline")
    wait_for_record(server.base_url, turns[1])

    page.goto(f"{server.base_url}/ui/sessions/agent-timeline")

    expect(page.locator(".turn")).to_have_count(2)
    first, second = page.locator(".turn").nth(0), page.locator(".turn").nth(1)
    expect(first.locator(".msg.prompt")).to_contain_text("Tidy up the build artefacts")
    expect(first.locator(".msg.tool-call")).to_contain_text("Read")
    expect(second).to_have_class("turn is-blocked")
    expect(second.locator(".msg.tool-result")).to_contain_text("rm -rf build/ dist/")
    blocked = second.locator(".msg.tool-call.is-blocked")
    expect(blocked).to_contain_text("Bash")
    expect(blocked).to_contain_text("rm -rf ~/ /work/app/build")
    expect(blocked.locator(".judge.is-blocked")).to_contain_text("Deletes files outside the workspace")
    expect(second.locator(".blocked-message")).to_contain_text("Blocked tool call")
    page.goto(f"{server.base_url}/ui/sessions")
    expect(page.locator("tr", has_text="agent-timeline")).to_contain_text("2")


def test_an_xss_payload_in_model_output_and_tool_arguments_renders_as_text(
    server: LuthienServer, fake: FakeProvider, page: Page, watch: PageWatch
) -> None:
    page.add_init_script("window.__xss = undefined;")
    open_live(page, f"{server.base_url}/ui/activity?q=window.__xss")
    transaction = xss_turn(server.base_url, fake, "agent-xss")
    expect(page.locator(FEED_ROWS)).to_have_count(1)
    wait_for_record(server.base_url, transaction)

    for path in (f"/ui/transactions/{transaction}", "/ui/sessions/agent-xss", "/ui/history?q=window.__xss"):
        page.goto(f"{server.base_url}{path}")
        expect(page.locator("main h1")).to_be_visible()
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("main img, main script").count() == 0, path
    open_live(page, f"{server.base_url}/ui/activity?q=window.__xss")
    expect(page.locator(FEED_ROWS)).to_have_count(1)
    assert page.evaluate("window.__xss") is None
    page.goto(f"{server.base_url}/ui/transactions/{transaction}")
    # Tool arguments are shown as JSON: the payload is there as text, its quotes JSON-escaped.
    expect(page.locator(".tool-call pre").first).to_contain_text(json.dumps(XSS)[1:-1])
    expect(page.locator(".blocked-message")).to_contain_text(json.dumps(XSS)[1:-1])
    page.goto(f"{server.base_url}/ui/sessions/agent-xss")
    expect(page.locator(".msg.assistant .msg-text").first).to_have_text(f"Sure: {XSS}")
    assert page.locator("main img").count() == 0
    assert watch.dialogs == []
    assert watch.errors == []


def test_a_policy_switch_shows_in_the_monitor(server: LuthienServer, page: Page) -> None:
    open_live(page, f"{server.base_url}/ui/activity")

    assert httpx.put(f"{server.base_url}/api/policy", json={"policy": "shout"}).status_code == 200

    expect(page.locator(".feed-notice")).to_contain_text("switched to shout from guarded by loopback")
    expect(page.locator("#active-policy")).to_have_text("shout")


def test_the_feed_keeps_the_newest_thousand_rows(
    server: LuthienServer, fake: FakeProvider, page: Page
) -> None:
    open_live(page, f"{server.base_url}/ui/activity")

    ids = chat_calls(server.base_url, fake, 1100)

    expect(page.locator("#row-count")).to_have_text("1000 calls (newest 1000 kept)")
    expect(page.locator(FEED_ROWS)).to_have_count(1000)
    expect(page.locator(FEED_ROWS).first).to_have_attribute("href", f"/ui/transactions/{ids[-1]}")
    expect(page.locator(FEED_ROWS).last).to_have_attribute("href", f"/ui/transactions/{ids[100]}")
