"""The hook runner's bound on held bytes: overflowing blocks are blocked or released, never judged.

Policies here run through the real `HookRunner` (and its repairer) over normalized events built
without wire bytes, so each held event counts its text plus a small constant (`held_size`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

import pytest

from luthien.activity.log import ActivityLog
from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    StopReason,
    ToolCall,
    tool_call_block,
)
from luthien.policy.base import BLOCKED_EVENT, OnHeldOverflow, Policy, PolicyConfig, PolicyContext
from luthien.policy.holding import HELD_OVERFLOW_EVENT, overflow_message, overflow_reason
from luthien.policy.runner import runner_for
from tests.support.call_events import START, run, text_events, texts, tool_calls
from tests.support.policy_runs import make_ctx

TOOL = BlockKind.TOOL_CALL

LIMIT = 4096


class Judge(Policy[PolicyConfig]):
    """Holds tool calls; records which ones its hook saw; passes them."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TOOL_CALL})

    def __init__(self, config: PolicyConfig, name: str = "") -> None:
        super().__init__(config, name)
        self.judged: list[str] = []

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        if event.block.tool_call is not None:
            self.judged.append(event.block.tool_call.name)
        return [event]


class ReleasingJudge(Judge):
    on_held_overflow: ClassVar[OnHeldOverflow] = OnHeldOverflow.RELEASE


def streamed_call(index: int, name: str, size: int, pieces: int = 8) -> list[CallEvent]:
    arguments = '{"a": "' + "x" * size + '"}'
    step = max(1, len(arguments) // pieces)
    chunks = [arguments[at : at + step] for at in range(0, len(arguments), step)]
    call = ToolCall(f"toolu_{name}", name, arguments)
    return [
        BlockStart(index, TOOL, tool_call=ToolCall(call.id, name, "")),
        *(BlockDelta(index, TOOL, text=chunk) for chunk in chunks),
        BlockComplete(index, tool_call_block(call)),
    ]


def events_of(activity: ActivityLog, type: str) -> list[dict[str, object]]:
    return [event.data for event in activity.events(type=type)]


@pytest.mark.asyncio
async def test_a_call_larger_than_the_limit_is_blocked_and_never_judged() -> None:
    activity = ActivityLog()
    policy = Judge(PolicyConfig())
    events = [
        START,
        *text_events(0, "Two calls."),
        *streamed_call(1, "big", LIMIT * 4),
        *streamed_call(2, "small", 10),
        MessageEnd(StopReason.TOOL_USE),
    ]

    out = await run(runner_for(policy, make_ctx("judge", activity=activity, max_held_bytes=LIMIT)), events)

    assert policy.judged == ["small"]
    assert [call.name for call in tool_calls(out)] == ["small"]
    assert any("Blocked tool call: `big`" in text for text in texts(out))
    overflow = events_of(activity, HELD_OVERFLOW_EVENT)
    assert [(item["tool"], item["action"]) for item in overflow] == [("big", "block")]
    assert events_of(activity, BLOCKED_EVENT)[0]["tool"] == "big"
    # Nothing of the big call's arguments went out.
    assert not any(isinstance(e, BlockDelta) and e.kind is TOOL and "x" * 100 in e.text for e in out)


@pytest.mark.asyncio
async def test_calls_waiting_for_judgment_count_toward_the_limit() -> None:
    activity = ActivityLog()
    policy = Judge(PolicyConfig())
    # Each fits alone; the second would take what is held (the first awaits judgment) past it.
    size = LIMIT * 2 // 3
    events = [
        START,
        *streamed_call(0, "first", size),
        *streamed_call(1, "second", size),
        MessageEnd(StopReason.TOOL_USE),
    ]

    out = await run(runner_for(policy, make_ctx("judge", activity=activity, max_held_bytes=LIMIT)), events)

    assert policy.judged == ["first"]
    assert [call.name for call in tool_calls(out)] == ["first"]


class TextHolder(Policy[PolicyConfig]):
    """Holds text blocks (resolved in place, one after the other) and passes them."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TEXT})


@pytest.mark.asyncio
async def test_held_bytes_are_given_back_once_a_block_is_resolved() -> None:
    activity = ActivityLog()
    piece = "y" * (LIMIT * 2 // 3)
    # Each block fits; both together would not, but the first is resolved before the second starts.
    events = [START, *text_events(0, piece), *text_events(1, piece), MessageEnd(StopReason.END_TURN)]

    out = await run(
        runner_for(TextHolder(PolicyConfig()), make_ctx("judge", activity=activity, max_held_bytes=LIMIT)),
        events,
    )

    assert texts(out) == [piece, piece]
    assert events_of(activity, HELD_OVERFLOW_EVENT) == []


@pytest.mark.asyncio
async def test_a_releasing_policy_passes_the_overflowing_call_unjudged() -> None:
    activity = ActivityLog()
    policy = ReleasingJudge(PolicyConfig())
    events = [START, *streamed_call(0, "big", LIMIT * 4), MessageEnd(StopReason.TOOL_USE)]

    out = await run(runner_for(policy, make_ctx("judge", activity=activity, max_held_bytes=LIMIT)), events)

    assert policy.judged == []
    calls = tool_calls(out)
    assert [call.name for call in calls] == ["big"]
    assert calls[0].arguments == '{"a": "' + "x" * LIMIT * 4 + '"}'
    assert [item["action"] for item in events_of(activity, HELD_OVERFLOW_EVENT)] == ["release"]
    assert events_of(activity, BLOCKED_EVENT) == []


@pytest.mark.asyncio
async def test_holding_is_reported_while_a_block_is_buffered() -> None:
    policy = Judge(PolicyConfig())
    runner = runner_for(policy, make_ctx("judge", max_held_bytes=LIMIT))
    seen: list[bool] = []

    async def events() -> AsyncIterator[CallEvent]:
        yield START
        seen.append(runner.holding)
        for event in streamed_call(0, "one", 10):
            yield event
            seen.append(runner.holding)
        yield MessageEnd(StopReason.TOOL_USE)

    _ = [event async for event in runner.process(events())]

    assert seen[0] is False  # nothing held after the message start
    assert all(seen[1:])  # the call is held from its start until it is judged at the end
    assert runner.holding is False


@pytest.mark.asyncio
async def test_an_overflow_is_recorded_with_its_sizes_and_blocks_with_the_policy_and_limit() -> None:
    activity = ActivityLog()
    policy = Judge(PolicyConfig(), name="judge-policy")
    call = ToolCall("toolu_big", "big", "")
    # Without wire bytes an event counts its text plus 64: the start holds 64, the delta takes the
    # call to 64 + (LIMIT + 64) bytes, past the limit.
    events: list[CallEvent] = [
        START,
        BlockStart(0, TOOL, tool_call=call),
        BlockDelta(0, TOOL, text="x" * LIMIT),
        BlockComplete(0, tool_call_block(ToolCall(call.id, call.name, "x" * LIMIT))),
        MessageEnd(StopReason.TOOL_USE),
    ]

    out = await run(runner_for(policy, make_ctx("judge", activity=activity, max_held_bytes=LIMIT)), events)

    assert policy.judged == []
    assert tool_calls(out) == []
    assert events_of(activity, HELD_OVERFLOW_EVENT) == [
        {
            "index": 0,
            "kind": "tool_call",
            "tool": "big",
            "held_bytes": 64 + LIMIT + 64,
            "limit": LIMIT,
            "action": "block",
        }
    ]
    assert events_of(activity, BLOCKED_EVENT) == [
        {
            "tool": "big",
            "tool_call_id": "toolu_big",
            "reason": overflow_reason("judge-policy", LIMIT),
            "overflow": True,
        }
    ]
    assert texts(out) == [
        overflow_message(BlockStart(0, TOOL, tool_call=call), overflow_reason("judge-policy", LIMIT))
    ]


def one_delta_call(index: int, name: str, text_chars: int) -> list[CallEvent]:
    """A tool call as a start, one delta of `text_chars` characters, and its completion.

    Without wire bytes it counts 64 (start) + text_chars + 64 (delta) + 64 (completion) bytes.
    """
    call = ToolCall(f"toolu_{name}", name, "x" * text_chars)
    return [
        BlockStart(index, TOOL, tool_call=ToolCall(call.id, name, "")),
        BlockDelta(index, TOOL, text=call.arguments),
        BlockComplete(index, tool_call_block(call)),
    ]


@pytest.mark.parametrize(("over", "judged"), [(0, ["first", "second", "third"]), (1, ["first", "second"])])
@pytest.mark.asyncio
async def test_the_limit_counts_every_pending_call_exactly_and_may_be_reached(
    over: int, judged: list[str]
) -> None:
    # Two calls of 64 + 100 + 64 + 64 = 292 bytes each await judgment; the third then holds its start
    # (64) and a delta of n + 64: with n = LIMIT - 2 * 292 - 128 it reaches the limit exactly (allowed);
    # one character more is past it.
    policy = Judge(PolicyConfig())
    events = [
        START,
        *one_delta_call(0, "first", 100),
        *one_delta_call(1, "second", 100),
        *one_delta_call(2, "third", LIMIT - 2 * 292 - 128 + over),
        MessageEnd(StopReason.TOOL_USE),
    ]

    out = await run(runner_for(policy, make_ctx("judge", max_held_bytes=LIMIT)), events)

    assert policy.judged == judged
    assert [call.name for call in tool_calls(out)] == judged
