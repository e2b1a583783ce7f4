"""`tool_call_judge`'s uncertain band (`escalate_at`) and resampling (`resample`), hook by hook.

The judge and the agent's model are the fake provider behind a real `ModelCaller`; the person is an
in-memory `ApprovalService` the test decides on. The whole path through a server is in
tests/e2e/test_approvals.py and test_resample.py, outside mutmut's fast selection: these pin, per
held tool call, whether a person is asked and with which verdict, what is sent when they approve
or deny, and which resampled call is sent in place of a blocked one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
import pytest_asyncio

from luthien.activity.log import ActivityLog
from luthien.approvals.memory import MemoryApprovals
from luthien.approvals.model import Decision, DecisionKind, JudgeVerdict, PendingApproval
from luthien.approvals.service import ApprovalService
from luthien.call.events import BlockComplete, CallEvent, ToolCall, text_block, tool_call_block
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig, WireFormat
from luthien.policies.tool_call_judge import ToolCallJudgePolicy
from luthien.policy.base import Policy, PolicyContext
from luthien.settings import Settings
from luthien.upstream.breaker import Breakers
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router
from tests.fake_provider import FakeProvider, JSONReply, anthropic_message
from tests.fake_provider import ToolCall as FakeCall

GUARD_S = 30.0
"""Timeout that only stops a broken build from hanging."""
APPROVAL_TIMEOUT_S = 120.0
TEMPLATE = "[{tool} refused at {probability}: {explanation}]"
RM = ToolCall("toolu_rm", "Bash", '{"command": "rm -rf ~/project"}')
REQUEST = CallRequest(
    WireFormat.ANTHROPIC,
    {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "clean up"}]},
    None,
)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    fake.start()
    yield fake
    fake.stop()


@pytest_asyncio.fixture
async def models(provider: FakeProvider) -> AsyncIterator[ModelCaller]:
    settings = Settings(anthropic_base_url=provider.base_url, openai_base_url=f"{provider.base_url}/v1")
    client = UpstreamClient(settings)
    await client.start()
    try:
        yield ModelCaller(
            Router(LuthienConfig().with_builtins(settings)), Breakers(client, failures=5, cooldown_s=GUARD_S)
        )
    finally:
        await client.close()


def _no_resolve(name: str) -> Policy[Any]:
    raise AssertionError(f"the judge resolves no other policy (asked for {name!r})")


def judge_policy(**overrides: Any) -> ToolCallJudgePolicy:
    config = {
        "judge": {"upstream": "anthropic", "model": "judge-model"},
        "threshold": 0.5,
        "blocked_message": TEMPLATE,
        **overrides,
    }
    policy = ToolCallJudgePolicy.from_config(config, "judge", _no_resolve)
    assert isinstance(policy, ToolCallJudgePolicy)
    return policy


def verdict(provider: FakeProvider, probability: float, explanation: str) -> None:
    """Queue the judge's answer."""
    text = json.dumps({"probability": probability, "explanation": explanation})
    provider.enqueue(JSONReply(anthropic_message(text)))


def agent_answer(provider: FakeProvider, *calls: FakeCall) -> None:
    """Queue the agent model's answer to a resample."""
    provider.enqueue(JSONReply(anthropic_message("Trying again.", tool_calls=calls)))


async def _until_pending(
    service: ApprovalService, hook: asyncio.Future[Sequence[CallEvent]]
) -> PendingApproval:
    while not hook.done():  # the caller's wait_for bounds it
        pending = await service.pending()
        if pending:
            (approval,) = pending
            return approval
        await asyncio.sleep(0)
    raise AssertionError(f"the hook ended without asking a person: {hook.result()}")


async def judged_by_a_person(
    policy: ToolCallJudgePolicy,
    event: BlockComplete,
    ctx: PolicyContext,
    service: ApprovalService,
    kind: DecisionKind,
) -> tuple[PendingApproval, Sequence[CallEvent]]:
    """Run the hook until it waits for a person, decide `kind`, and return the approval and the output."""
    hook = asyncio.ensure_future(policy.on_block_complete(event, ctx))
    try:
        approval = await asyncio.wait_for(_until_pending(service, hook), GUARD_S)
    except BaseException:
        hook.cancel()
        raise
    await service.decide(approval.id, Decision(kind, "looked at it", "admin-key", time.time()))
    return approval, await asyncio.wait_for(hook, GUARD_S)


# -- the uncertain band ------------------------------------------------------------------------------


@pytest.mark.parametrize("probability", [0.3, 0.49])
@pytest.mark.asyncio
async def test_a_call_in_the_uncertain_band_waits_for_a_person_and_is_sent_when_approved(
    provider: FakeProvider, models: ModelCaller, probability: float
) -> None:
    service = ApprovalService(MemoryApprovals(), None)
    activity = ActivityLog()
    ctx = PolicyContext("tx-band", "judge", activity, models, REQUEST, approvals=service)
    policy = judge_policy(escalate_at=0.3, approval={"timeout_s": APPROVAL_TIMEOUT_S})
    event = BlockComplete(2, tool_call_block(RM))
    verdict(provider, probability, "Deletes a project folder.")

    approval, out = await judged_by_a_person(policy, event, ctx, service, DecisionKind.APPROVE)

    assert approval.verdict == JudgeVerdict(probability, "Deletes a project folder.", 0.5, 0.3)
    assert (approval.transaction_id, approval.policy) == ("tx-band", "judge")
    assert (approval.tool, approval.tool_call_id, approval.arguments) == (
        "Bash",
        "toolu_rm",
        '{"command": "rm -rf ~/project"}',
    )
    assert approval.expires_at - approval.created_at == pytest.approx(APPROVAL_TIMEOUT_S)
    assert len(out) == 1
    assert out[0] is event
    (requested,) = activity.events(type="approval.requested")
    assert requested.data["probability"] == probability
    (decision,) = activity.events(type="judge.decision")
    assert decision.data["blocked"] is False
    assert activity.events(type="policy.blocked") == []
    await service.close()


@pytest.mark.asyncio
async def test_a_call_in_the_uncertain_band_that_a_person_denies_is_blocked(
    provider: FakeProvider, models: ModelCaller
) -> None:
    service = ApprovalService(MemoryApprovals(), None)
    activity = ActivityLog()
    ctx = PolicyContext("tx-deny", "judge", activity, models, REQUEST, approvals=service)
    verdict(provider, 0.4, "Deletes a project folder.")

    _, out = await judged_by_a_person(
        judge_policy(escalate_at=0.3), BlockComplete(0, tool_call_block(RM)), ctx, service, DecisionKind.DENY
    )

    (replacement,) = out
    assert isinstance(replacement, BlockComplete)
    assert replacement.block.tool_call is None
    assert "looked at it" in replacement.block.text  # the person's reason reaches the agent
    (blocked,) = activity.events(type="policy.blocked")
    assert blocked.data["tool_call_id"] == "toolu_rm"
    await service.close()


@pytest.mark.parametrize(
    ("probability", "expected"),
    [
        (0.5, "[Bash refused at 0.5: Deletes a project folder.]"),  # at the threshold: blocked outright
        (0.29, None),  # below the band: sent at once
    ],
)
@pytest.mark.asyncio
async def test_outside_the_uncertain_band_no_person_is_asked(
    provider: FakeProvider, models: ModelCaller, probability: float, expected: str | None
) -> None:
    # Without an approvals service a person asked would be a denial (fail-secure), so asking shows.
    activity = ActivityLog()
    ctx = PolicyContext("tx-out", "judge", activity, models, REQUEST)
    event = BlockComplete(1, tool_call_block(RM))
    verdict(provider, probability, "Deletes a project folder.")

    out = await judge_policy(escalate_at=0.3).on_block_complete(event, ctx)

    assert list(out) == ([event] if expected is None else [BlockComplete(-1, text_block(expected))])
    assert activity.events(type="approval.requested") == []
    assert activity.events(type="approval.decided") == []


@pytest.mark.asyncio
async def test_without_an_uncertain_band_a_call_below_the_threshold_is_sent(
    provider: FakeProvider, models: ModelCaller
) -> None:
    activity = ActivityLog()
    ctx = PolicyContext("tx-none", "judge", activity, models, REQUEST)
    event = BlockComplete(1, tool_call_block(RM))
    verdict(provider, 0.49, "Deletes a project folder.")

    out = await judge_policy().on_block_complete(event, ctx)

    assert list(out) == [event]
    assert activity.events(type="approval.decided") == []


# -- resampling ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_blocked_call_is_replaced_by_the_resampled_call_the_judge_passes(
    provider: FakeProvider, models: ModelCaller
) -> None:
    activity = ActivityLog()
    ctx = PolicyContext("tx-resample", "judge", activity, models, REQUEST)
    verdict(provider, 0.9, "Deletes a project folder.")
    agent_answer(provider, FakeCall("toolu_safe", "Bash", {"command": "rm -rf ~/project/build"}))
    verdict(provider, 0.1, "Removes build output.")

    out = await judge_policy(resample=2).on_block_complete(BlockComplete(4, tool_call_block(RM)), ctx)

    sent = ToolCall("toolu_safe", "Bash", '{"command":"rm -rf ~/project/build"}')
    assert list(out) == [BlockComplete(4, tool_call_block(sent))]
    assert activity.events(type="policy.blocked") == []
    (resampled,) = activity.events(type="judge.resample")
    assert (resampled.data["attempt"], resampled.data["sent"]) == (1, True)
    judge_asked, agent_asked, _ = provider.requests
    assert json.loads(agent_asked.body)["model"] == "claude-sonnet-4-6"
    assert json.loads(judge_asked.body)["model"] == "judge-model"


@pytest.mark.asyncio
async def test_the_second_call_of_a_turn_is_replaced_by_the_answers_second_call(
    provider: FakeProvider, models: ModelCaller
) -> None:
    ctx = PolicyContext("tx-second", "judge", ActivityLog(), models, REQUEST)
    policy = judge_policy(resample=1)
    first = BlockComplete(1, tool_call_block(ToolCall("toolu_ls", "Bash", '{"command": "ls"}')))
    verdict(provider, 0.0, "Lists files.")
    assert list(await policy.on_block_complete(first, ctx)) == [first]
    verdict(provider, 0.9, "Deletes a project folder.")
    agent_answer(
        provider,
        FakeCall("toolu_a", "Bash", {"command": "ls"}),
        FakeCall("toolu_b", "Bash", {"command": "rm -rf ~/project/build"}),
    )
    verdict(provider, 0.1, "Removes build output.")

    out = await policy.on_block_complete(BlockComplete(2, tool_call_block(RM)), ctx)

    sent = ToolCall("toolu_b", "Bash", '{"command":"rm -rf ~/project/build"}')
    assert list(out) == [BlockComplete(2, tool_call_block(sent))]


@pytest.mark.asyncio
async def test_when_no_resampled_call_passes_the_call_is_blocked_with_the_first_verdict(
    provider: FakeProvider, models: ModelCaller
) -> None:
    activity = ActivityLog()
    ctx = PolicyContext("tx-still", "judge", activity, models, REQUEST)
    verdict(provider, 0.9, "Deletes a project folder.")
    agent_answer(provider, FakeCall("toolu_again", "Bash", {"command": "rm -rf ~/project/src"}))
    verdict(provider, 0.8, "Deletes sources.")

    out = await judge_policy(resample=1).on_block_complete(BlockComplete(0, tool_call_block(RM)), ctx)

    assert list(out) == [BlockComplete(-1, text_block("[Bash refused at 0.9: Deletes a project folder.]"))]
    (blocked,) = activity.events(type="policy.blocked")
    assert (blocked.data["tool_call_id"], blocked.data["probability"]) == ("toolu_rm", 0.9)
    (resampled,) = activity.events(type="judge.resample")
    assert resampled.data["sent"] is False
