"""`/ui/approvals` in Chromium: a held tool call appears live, the badge counts it, a click approves it.

Waits are Playwright's (`expect` polls the page until its timeout); nothing asserts on timings. The
test saves the page with a pending call to docs/images/approvals.png.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, ToolCall, anthropic_message
from tests.support.approvals import GUARD_S, approval_config, pending

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CALL = ToolCall(
    "toolu_01Deploy", "Bash", {"command": "kubectl rollout restart deploy/api", "description": "restart"}
)


def test_a_pending_call_appears_live_and_is_approved_with_a_click(
    make_luthien: LuthienFactory, fake: FakeProvider, page: Page, watch: PageWatch
) -> None:
    server = make_luthien(approval_config())
    fake.enqueue(JSONReply(anthropic_message("Restarting the API.", tool_calls=[CALL])))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S * 3)
    messages = [
        {"role": "user", "content": "The API pods are stuck after the config change. Restart them."},
    ]

    page.goto(f"{server.base_url}/ui/approvals")
    expect(page.locator(".empty-approvals")).to_be_visible()
    expect(page.locator("#approvals-count")).to_be_hidden()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: client.messages.create(model="m", max_tokens=10, messages=messages))  # pyright: ignore[reportArgumentType]
        card = page.locator("article.approval")
        expect(card).to_have_count(1)  # live: no reload
        expect(page.locator("#approvals-count")).to_have_text("1")
        expect(card.locator("pre.code")).to_contain_text("kubectl rollout restart")
        expect(card.locator(".approval-context")).to_contain_text("Restart them.")
        page.screenshot(path=str(IMAGES / "approvals.png"))
        card.locator("input.reason").fill("Planned restart, go ahead.")
        card.locator("button.approve").click()
        expect(page.locator(".alert.success")).to_contain_text("Decision recorded")
        message = future.result(GUARD_S)

    assert [block.type for block in message.content] == ["text", "tool_use"]
    expect(page.locator("article.approval")).to_have_count(0)
    expect(page.locator("#approvals-count")).to_be_hidden()
    assert pending(server.base_url, {}) == []
    (decided,) = server.app.state.gateway.activity.events(type="approval.decided")
    assert (decided.data["decision"], decided.data["reason"], decided.data["by"]) == (
        "approve",
        "Planned restart, go ahead.",
        "loopback",
    )
    assert watch.csp_violations == []
    assert watch.errors == []
