"""The approval webhook against the fake provider: the body, refusals counted, shutdown bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from luthien.approvals.model import JudgeVerdict, PendingApproval
from luthien.approvals.webhook import ARGUMENTS_PREVIEW_CHARS, WebhookSender, webhook_body
from tests.fake_provider import FakeProvider, HangReply, JSONReply

GUARD_S = 30.0


@pytest.fixture
def receiver() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


def approval(arguments: str = '{"command": "ls"}', verdict: JudgeVerdict | None = None) -> PendingApproval:
    now = time.time()
    return PendingApproval(
        "apr_1", "tx", None, "approve", "Bash", "c1", arguments, now, now + 60, verdict=verdict
    )


def test_the_body_is_slack_text_plus_structured_fields() -> None:
    body = webhook_body(
        approval("x" * (ARGUMENTS_PREVIEW_CHARS * 2), JudgeVerdict(0.42, "unsure", 0.5, 0.3)),
        "https://l/ui/approvals",
    )
    assert body["text"].startswith("Luthien: tool call `Bash` waits for approval (apr_1)")
    assert "x" * (ARGUMENTS_PREVIEW_CHARS + 1) not in body["text"]
    assert "Judge: 0.42 — unsure" in body["text"]
    assert "Decide: https://l/ui/approvals" in body["text"]
    assert body["approval"]["id"] == "apr_1"
    plain = webhook_body(approval(), None)
    assert "Judge" not in plain["text"]
    assert plain["url"] is None


async def _settled(sender: WebhookSender) -> None:
    for _ in iter(int, 1):  # bounded by the caller's wait_for
        if sender.sent + sender.failed:
            return
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "sent", "failed"), [(200, 1, 0), (500, 0, 1)])
async def test_answers_are_counted(receiver: FakeProvider, status: int, sent: int, failed: int) -> None:
    receiver.enqueue(JSONReply({"ok": status == 200}, status=status))
    sender = WebhookSender()
    sender.notify(f"{receiver.base_url}/v1/messages", approval(), None)
    await asyncio.wait_for(_settled(sender), GUARD_S)
    await sender.close()
    assert (sender.sent, sender.failed) == (sent, failed)
    (request,) = receiver.requests
    assert request.json()["approval"]["id"] == "apr_1"


@pytest.mark.asyncio
async def test_close_cancels_a_post_that_never_ends(receiver: FakeProvider) -> None:
    receiver.enqueue(HangReply())
    sender = WebhookSender(close_timeout_s=0.01)
    sender.notify(f"{receiver.base_url}/v1/messages", approval(), None)
    await asyncio.sleep(0)
    await asyncio.wait_for(sender.close(), GUARD_S)
    assert (sender.sent, sender.failed) == (0, 0)
