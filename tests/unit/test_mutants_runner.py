"""The hook runner's held-bytes limit where an overflow meets tool calls still being judged.

What `test_runner_held_bytes.py` leaves open: when the blocked message of an overflowing block goes
out while tool calls await judgment (at once, like any decided text, not when the calls are decided),
and the limit a zero-byte context names. Events are built without wire bytes, so each held event
counts its text plus 64 bytes (`luthien.policy.holding.held_size`).
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
    MessageStart,
    StopReason,
    ToolCall,
    text_block,
    tool_call_block,
)
from luthien.policy.base import Policy, PolicyConfig, PolicyContext, Runner
from luthien.policy.holding import overflow_reason
from luthien.policy.runner import runner_for

LIMIT = 1024
BIG = "x" * (LIMIT * 2)
"""Arguments or text far past `LIMIT`."""
START = MessageStart("msg_1", "claude")
TEXT = BlockKind.TEXT
TOOL = BlockKind.TOOL_CALL


class PassEverything(Policy[PolicyConfig]):
    """Holds text and tool calls, and passes each as it is."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TEXT, TOOL})

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        return [event]


def call_events(index: int, name: str, arguments: str) -> list[CallEvent]:
    call = ToolCall(f"toolu_{name}", name, arguments)
    return [
        BlockStart(index, TOOL, tool_call=ToolCall(call.id, name, "")),
        BlockDelta(index, TOOL, text=arguments),
        BlockComplete(index, tool_call_block(call)),
    ]


def text_events(index: int, text: str) -> list[CallEvent]:
    return [
        BlockStart(index, TEXT),
        BlockDelta(index, TEXT, text=text),
        BlockComplete(index, text_block(text)),
    ]


def _name(block_event: BlockComplete) -> tuple[BlockKind, str]:
    """A tool call by its name, a text by its first line."""
    block = block_event.block
    return (block.kind, block.tool_call.name if block.tool_call is not None else block.text.split("\n")[0])


async def streamed(events: list[CallEvent], ctx: PolicyContext) -> list[tuple[int, tuple[BlockKind, str]]]:
    """Each block the client receives, in order, with how many upstream events had arrived by then."""
    runner = runner_for(PassEverything(PolicyConfig(), name="holder"), ctx)
    arrived = 0

    async def upstream() -> AsyncIterator[CallEvent]:
        nonlocal arrived
        for event in events:
            arrived += 1
            yield event

    return [
        (arrived, _name(event))
        async for event in runner.process(upstream())
        if isinstance(event, BlockComplete)
    ]


def limited(activity: ActivityLog, limit: int = LIMIT) -> PolicyContext:
    return PolicyContext("tx", "holder", activity, max_held_bytes=limit)


@pytest.mark.asyncio
async def test_an_overflowing_text_block_is_blocked_at_once_while_a_call_is_being_judged() -> None:
    events = [
        START,
        *call_events(0, "first", "{}"),
        *text_events(1, BIG),
        *text_events(2, "Done."),
        MessageEnd(StopReason.TOOL_USE),
    ]

    blocks = await streamed(events, limited(ActivityLog()))

    # The text's completion is the 7th upstream event; the call is decided at the end (the 11th).
    assert blocks == [
        (7, (TEXT, "**Blocked text block**")),
        (10, (TEXT, "Done.")),
        (11, (TOOL, "first")),
    ]


@pytest.mark.asyncio
async def test_an_overflowing_call_with_none_being_judged_is_blocked_at_once() -> None:
    events = [START, *call_events(0, "big", BIG), *text_events(1, "After."), MessageEnd(StopReason.TOOL_USE)]

    blocks = await streamed(events, limited(ActivityLog()))

    # The call's completion is the 4th upstream event.
    assert blocks == [(4, (TEXT, "**Blocked tool call: `big`**")), (7, (TEXT, "After."))]


@pytest.mark.asyncio
async def test_a_context_that_may_hold_nothing_blocks_every_held_block_naming_a_limit_of_zero() -> None:
    activity = ActivityLog()
    events = [START, *call_events(0, "ls", "{}"), MessageEnd(StopReason.TOOL_USE)]

    blocks = await streamed(events, limited(activity, 0))

    assert blocks == [(4, (TEXT, "**Blocked tool call: `ls`**"))]
    (blocked,) = activity.events(type="policy.blocked")
    assert blocked.data["reason"] == overflow_reason("holder", 0)


class TextDecider(Policy[PolicyConfig]):
    """Holds text blocks (decided in place, one at a time); notes whether the runner reports holding."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TEXT})

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__(config)
        self.watched: Runner | None = None
        self.holding_while_deciding: list[bool] = []

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        assert self.watched is not None
        self.holding_while_deciding.append(self.watched.holding)
        return [event]


@pytest.mark.asyncio
async def test_holding_is_reported_while_a_text_block_is_decided_and_not_after() -> None:
    policy = TextDecider(PolicyConfig())
    runner = runner_for(policy, PolicyContext("tx", "decider", ActivityLog(), max_held_bytes=LIMIT))
    policy.watched = runner
    after: list[bool] = []

    async def upstream() -> AsyncIterator[CallEvent]:
        yield START
        for event in [*text_events(0, "one"), *text_events(1, "two")]:
            yield event
            after.append(runner.holding)
        yield MessageEnd(StopReason.END_TURN)

    out = [event async for event in runner.process(upstream())]

    assert [_name(event) for event in out if isinstance(event, BlockComplete)] == [
        (TEXT, "one"),
        (TEXT, "two"),
    ]
    assert policy.holding_while_deciding == [True, True]
    # Held from each block's start; not once it is decided (read when the next event is asked for).
    assert after == [True, True, False, True, True, False]
    assert runner.holding is False
