"""OpenAI Responses' form of a translated answer's refusals and usage (`ClientShape`).

A refusal block is a `refusal` content part (its pieces as `response.refusal.delta` payloads, its end
with the whole refusal). The response object (`response.created`, the terminal event, a body) gets
every field the API documents (`RESPONSE_FIELDS`), none of which the upstream's answer supplies, and
its usage `input_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import time
from typing import Any

from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Usage,
)
from luthien.translation.client_shape import ClientShape, as_dict
from luthien.translation.foreign import REFUSAL, REFUSAL_DELTA
from luthien.wire.events import RESPONSE_BODY, WireEvent

RESPONSE_FIELDS: dict[str, Any] = {
    "object": "response",
    "status": "in_progress",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "metadata": {},
    "output": [],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": None,
}
"""A Responses `response` object's fields, as a translated answer starts them."""


class ResponsesShape(ClientShape):
    """Refusal parts, the whole response object, and the cached input tokens."""

    def refusal_start(self, event: BlockStart) -> CallEvent:
        """A `refusal` content part, empty so far."""
        return BlockStart(event.index, BlockKind.OTHER, data={**REFUSAL, "refusal": ""})

    def refusal_delta(self, event: BlockDelta) -> CallEvent:
        """A `response.refusal.delta` payload (the encoder renumbers it to the part it sends)."""
        where = {"item_id": "", "output_index": 0, "content_index": 0}
        return BlockDelta(
            event.index, BlockKind.OTHER, data={"type": REFUSAL_DELTA, **where, "delta": event.text}
        )

    def refusal_complete(self, event: BlockComplete) -> CallEvent:
        """The whole `refusal` part."""
        part = {**REFUSAL, "refusal": event.block.text}
        return BlockComplete(event.index, Block(BlockKind.OTHER, text=event.block.text, data=part))

    def message_start(self, event: MessageStart) -> CallEvent:
        """A start without the upstream's response object gets a whole one."""
        if event.data is not None:
            return event
        response = {"id": event.message_id, "created_at": int(time.time()), **RESPONSE_FIELDS}
        return MessageStart(event.message_id, event.model, data={**response, "model": event.model})

    def wire(self, event: CallEvent, wire: list[WireEvent]) -> list[WireEvent]:
        """The terminal event with the cached input tokens."""
        if not isinstance(event, MessageEnd) or event.usage is None:
            return wire
        return [_with_cached(item, event.usage) for item in wire]

    def body(self, body: WireEvent, usage: Usage | None) -> WireEvent:
        """The whole response object, with the cached input tokens."""
        data = as_dict(body.data)
        created = data.get("created_at") or int(time.time())
        body = WireEvent(RESPONSE_BODY, {**RESPONSE_FIELDS, **data, "created_at": created})
        return body if usage is None else _with_cached(body, usage)


def _with_cached(event: WireEvent, usage: Usage) -> WireEvent:
    """A Responses terminal event (or body) whose usage reports the cached input tokens."""
    if usage.cache_read_input_tokens is None:
        return event
    data = as_dict(event.data)
    response = as_dict(data.get("response")) if event.type != RESPONSE_BODY else data
    counts = as_dict(response.get("usage"))
    if not counts:
        return event
    details = {**as_dict(counts.get("input_tokens_details")), "cached_tokens": usage.cache_read_input_tokens}
    response = {**response, "usage": {**counts, "input_tokens_details": details}}
    payload = response if event.type == RESPONSE_BODY else {**data, "response": response}
    return WireEvent(event.type, payload, event.sse_event)
