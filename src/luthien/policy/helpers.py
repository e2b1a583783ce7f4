"""Helpers that build what a hook returns: new text, blocked-call messages, replaced or dropped calls.

Each returns a list of events, ready to return from a hook (or to concatenate with others).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import cast

import orjson

from luthien.call.events import BlockComplete, CallEvent, ToolCall, text_block, tool_call_block
from luthien.policy.base import PolicyContext

ARGUMENTS_VALUE_LIMIT = 2_000
"""Characters of one argument value shown in a blocked message before it is cut."""
TRUNCATION_MARKER = "… [truncated]"


def send_text(text: str) -> list[CallEvent]:
    """A whole text block, sent where the hook's output is placed."""
    return [BlockComplete(-1, text_block(text))]


def _truncate(value: object, limit: int) -> object:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + TRUNCATION_MARKER
    if isinstance(value, dict):
        mapping = cast(dict[str, object], value)
        return {key: _truncate(item, limit) for key, item in mapping.items()}
    if isinstance(value, list):
        return [_truncate(item, limit) for item in cast(list[object], value)]
    return value


def format_arguments(call: ToolCall, limit: int = ARGUMENTS_VALUE_LIMIT) -> str:
    """The call's arguments as pretty-printed JSON (long values cut), or as sent when not JSON."""
    parsed = call.parsed_arguments
    if parsed is None:
        text = call.arguments
        return text if len(text) <= limit else text[:limit] + TRUNCATION_MARKER
    return orjson.dumps(_truncate(parsed, limit), option=orjson.OPT_INDENT_2).decode("utf-8")


def blocked_message(call: ToolCall, reason: str, *, limit: int = ARGUMENTS_VALUE_LIMIT) -> str:
    """Markdown explaining a blocked tool call: headline, reason, and the arguments as a JSON block."""
    return (
        f"**Blocked tool call: `{call.name}`**\n\n"
        f"{reason.strip()}\n\n"
        f"Arguments:\n\n```json\n{format_arguments(call, limit)}\n```\n"
    )


def send_blocked_message(call: ToolCall, reason: str, ctx: PolicyContext | None = None) -> list[CallEvent]:
    """Replace a tool call by a text block saying it was blocked and why.

    Given the call's `ctx`, also records the block (`ctx.record_blocked`), which marks the call's
    transaction record `blocked`.
    """
    if ctx is not None:
        ctx.record_blocked(reason, call)
    return send_text(blocked_message(call, reason))


def replace_tool_call(event: BlockComplete, call: ToolCall) -> list[CallEvent]:
    """Send a different tool call (e.g. rewritten arguments) in place of `event`'s."""
    return [BlockComplete(event.index, tool_call_block(call))]


def replace_arguments(event: BlockComplete, arguments: dict[str, object]) -> list[CallEvent]:
    """Send `event`'s tool call with new arguments."""
    call = event.block.tool_call
    if call is None:
        raise ValueError("replace_arguments needs a tool-call block")
    new_call = dataclasses.replace(call, arguments=orjson.dumps(arguments).decode("utf-8"))
    return replace_tool_call(event, new_call)


def drop() -> Sequence[CallEvent]:
    """Send nothing for the event."""
    return []
