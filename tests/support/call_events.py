"""Normalized call events for tests of runners, the repairer and policies: building them and reading them.

`text_events`, `thinking_events` and `tool_events` are one streamed block each, as a codec decodes
it from upstream; `run` passes events through a `Runner`; `texts` and `tool_calls` read what came out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageStart,
    ToolCall,
    text_block,
    tool_call_block,
)
from luthien.policy.runner import Runner

START = MessageStart("msg_1", "claude")
"""The start of a message (id and model do not matter to the tests)."""


def text_events(index: int, *pieces: str) -> list[CallEvent]:
    """A streamed text block as upstream would send it."""
    return [
        BlockStart(index, BlockKind.TEXT),
        *(BlockDelta(index, BlockKind.TEXT, text=piece) for piece in pieces),
        BlockComplete(index, text_block("".join(pieces))),
    ]


def thinking_events(index: int, text: str, signature: str) -> list[CallEvent]:
    """A streamed thinking block: its text, then its signature."""
    return [
        BlockStart(index, BlockKind.THINKING),
        BlockDelta(index, BlockKind.THINKING, text=text),
        BlockDelta(index, BlockKind.THINKING, signature=signature),
        BlockComplete(index, Block(BlockKind.THINKING, text=text, signature=signature)),
    ]


def tool_events(index: int, call: ToolCall, *pieces: str) -> list[CallEvent]:
    """A streamed tool-call block, its arguments in `pieces` (default: in one piece)."""
    parts = pieces or (call.arguments,)
    return [
        BlockStart(index, BlockKind.TOOL_CALL, tool_call=ToolCall(call.id, call.name, "")),
        *(BlockDelta(index, BlockKind.TOOL_CALL, text=piece) for piece in parts),
        BlockComplete(index, tool_call_block(call)),
    ]


async def aiter_of(events: Iterable[CallEvent]) -> AsyncIterator[CallEvent]:
    """`events` as the async stream a runner reads."""
    for event in events:
        yield event


async def run(runner: Runner, events: Iterable[CallEvent]) -> list[CallEvent]:
    """What `runner` sends for `events`."""
    return [event async for event in runner.process(aiter_of(events))]


def texts(events: Sequence[CallEvent]) -> list[str]:
    """The text of every completed text block, in order."""
    return [e.block.text for e in events if isinstance(e, BlockComplete) and e.block.kind is BlockKind.TEXT]


def tool_calls(events: Sequence[CallEvent]) -> list[ToolCall]:
    """The tool call of every completed tool-call block, in order."""
    return [
        e.block.tool_call for e in events if isinstance(e, BlockComplete) and e.block.tool_call is not None
    ]
