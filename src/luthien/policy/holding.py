"""Bounding what a policy holds: the size of held events, and what a block that outgrew it becomes.

`HookRunner` counts the bytes of every event it holds back for a policy (the buffered events of held
blocks, and those of tool calls awaiting judgment) against `PolicyContext.max_held_bytes`
(`LUTHIEN_MAX_HELD_BYTES`). A held block whose next event would cross it overflows, and the policy's
`on_held_overflow` decides:

- `block` (the default): everything held of the block is dropped, its further events are dropped
  as they arrive, and at its completion it is replaced by `overflow_message` (a `policy.blocked`
  activity event marks the record `blocked`). The hook never sees the block.
- `release`: what was held is sent now and the rest of the block streams through unheld; the
  hook never sees the block either.

Either way a `policy.held_overflow` activity event says which block, how many bytes and what
happened.
"""

from __future__ import annotations

from luthien.call.events import BlockKind, BlockStart, CallEvent

HELD_OVERFLOW_EVENT = "policy.held_overflow"
"""Activity event type: a held block outgrew `LUTHIEN_MAX_HELD_BYTES`."""
_NO_BYTES_EVENT_SIZE = 64
"""Bytes counted for an event that has no wire bytes of its own (one a policy built)."""


def held_size(event: CallEvent) -> int:
    """Bytes `event` keeps in memory while held: the share of its upstream wire bytes.

    A wire event that several normalized events came from (a Chat chunk carrying text and a tool
    call's fragment) is divided among them. Events without wire bytes count their text.
    """
    origin = event.origin
    if origin is not None:
        raw = sum(len(wire.raw) for wire in origin.wire if wire.raw is not None)
        return raw // max(origin.parts, 1)
    text = getattr(event, "text", "")
    return (len(text) if isinstance(text, str) else 0) + _NO_BYTES_EVENT_SIZE


def overflow_reason(policy_name: str, limit: int) -> str:
    """Why a held block was blocked, in a sentence (recorded with the `policy.blocked` event)."""
    return (
        f"It grew past the {limit} bytes policy `{policy_name}` may hold while it decides "
        "(LUTHIEN_MAX_HELD_BYTES), so it was not checked and is not passed on."
    )


def overflow_message(start: BlockStart, reason: str) -> str:
    """The text that replaces a blocked held block (Markdown, like the judges' blocked messages)."""
    if start.kind is BlockKind.TOOL_CALL:
        name = start.tool_call.name if start.tool_call is not None else "?"
        return f"**Blocked tool call: `{name}`**\n\n{reason}\n"
    return f"**Blocked {start.kind.value} block**\n\n{reason}\n"
