"""Event policies for codec tests: functions from one normalized event to what is sent in its place.

Small ones (`upper_text`, `dropping`, `appending`, `holding_tools` and its `dropping_tools`,
`blocking_tools`, `passing_tools`) do one thing each; `Rewrite` combines the common edits in one
policy, for property tests that draw them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    ToolCall,
    text_block,
)
from tests.support.codec_streams import EventPolicy

BLOCKED_TEXT = "blocked"
"""The text `blocking_tools` puts in place of a tool call."""
APPENDED_INDEX = 1000
"""The block index of a text block a policy adds at the end (past any upstream block)."""


def upper_text(event: CallEvent) -> list[CallEvent]:
    if isinstance(event, BlockDelta) and event.kind is BlockKind.TEXT and event.data is None:
        return [dataclasses.replace(event, text=event.text.upper())]
    if isinstance(event, BlockComplete) and event.block.kind is BlockKind.TEXT:
        return [
            dataclasses.replace(event, block=dataclasses.replace(event.block, text=event.block.text.upper()))
        ]
    return [event]


def holding_tools(decide: Callable[[BlockComplete], list[CallEvent] | None]) -> EventPolicy:
    """A policy holding tool-call blocks; `decide` returns replacements, or None to pass the block."""
    held: dict[int, list[CallEvent]] = {}

    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart) and event.kind is BlockKind.TOOL_CALL:
            held[event.index] = [event]
            return []
        if isinstance(event, BlockDelta) and event.index in held:
            held[event.index].append(event)
            return []
        if isinstance(event, BlockComplete) and event.index in held:
            buffered = held.pop(event.index)
            replacement = decide(event)
            return [*buffered, event] if replacement is None else replacement
        return [event]

    return policy


def dropping(kind: BlockKind) -> EventPolicy:
    dropped: set[int] = set()

    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart) and event.kind is kind:
            dropped.add(event.index)
        if isinstance(event, BlockStart | BlockDelta | BlockComplete) and event.index in dropped:
            return []
        return [event]

    return policy


def appending(text: str) -> EventPolicy:
    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, MessageEnd):
            return [BlockComplete(APPENDED_INDEX, text_block(text)), event]
        return [event]

    return policy


def dropping_tools() -> EventPolicy:
    """A policy dropping every tool call."""
    return holding_tools(lambda _complete: [])


def blocking_tools(text: str = BLOCKED_TEXT) -> EventPolicy:
    """A policy replacing every tool call by a text block of `text`."""
    return holding_tools(lambda complete: [BlockComplete(complete.index, text_block(text))])


def passing_tools() -> EventPolicy:
    """A policy holding every tool call to its end, then passing it unchanged."""
    return holding_tools(lambda _complete: None)


class Rewrite:
    """A policy that edits text, holds tool calls (then passes, blocks, or drops them), or adds text."""

    def __init__(
        self,
        text: Callable[[str], str] | None = None,
        tools: Callable[[ToolCall], str] = lambda call: "pass",
        drop_text: bool = False,
        append: str | None = None,
    ) -> None:
        self.text, self.tools, self.drop_text, self.append = text, tools, drop_text, append
        self.held: dict[int, list[CallEvent]] = {}

    def __call__(self, event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart | BlockDelta | BlockComplete):
            kind = event.block.kind if isinstance(event, BlockComplete) else event.kind
            if kind is BlockKind.TEXT and self.drop_text:
                return []
            if kind is BlockKind.TEXT and self.text and isinstance(event, BlockDelta):
                return [dataclasses.replace(event, text=self.text(event.text))]
            if kind is BlockKind.TEXT and self.text and isinstance(event, BlockComplete):
                return [BlockComplete(event.index, text_block(self.text(event.block.text)))]
            if kind is BlockKind.TOOL_CALL:
                return self._tool(event)
        if isinstance(event, MessageEnd) and self.append is not None:
            return [BlockComplete(APPENDED_INDEX, text_block(self.append)), event]
        return [event]

    def _tool(self, event: BlockStart | BlockDelta | BlockComplete) -> list[CallEvent]:
        held = self.held.setdefault(event.index, [])
        if not isinstance(event, BlockComplete):
            held.append(event)
            return []
        assert event.block.tool_call is not None
        verdict = self.tools(event.block.tool_call)
        if verdict == "pass":
            return [*held, event]
        if verdict == "block":
            return [BlockComplete(event.index, text_block(f"blocked {event.block.tool_call.name}"))]
        return []
