"""Anthropic Messages' form of a translated answer's refusals and usage (`ClientShape`).

Messages has no refusal block: a refusal is written as text, and a plain end of turn after one as
`stop_reason: refusal`. Its `message_delta` and body carry input, output and cache counts.
"""

from __future__ import annotations

from typing import Any

from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    StopReason,
    Usage,
)
from luthien.translation.client_shape import ClientShape, as_dict
from luthien.wire.events import RESPONSE_BODY, WireEvent


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    """An Anthropic `usage` object."""
    counts = {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
    }
    return {key: value for key, value in counts.items() if value is not None}


class AnthropicShape(ClientShape):
    """Refusals as text, and Anthropic's usage object."""

    def refusal_start(self, event: BlockStart) -> CallEvent:
        """A text block in its place."""
        return BlockStart(event.index, BlockKind.TEXT)

    def refusal_delta(self, event: BlockDelta) -> CallEvent:
        """Its text as text."""
        return BlockDelta(event.index, BlockKind.TEXT, text=event.text)

    def refusal_complete(self, event: BlockComplete) -> CallEvent:
        """The whole refusal as a text block."""
        return BlockComplete(event.index, Block(BlockKind.TEXT, text=event.block.text))

    def message_end(self, event: MessageEnd) -> CallEvent:
        """`message_delta` with the usage; a refusal's plain end of turn becomes `refusal`."""
        stop = event.stop_reason
        if self.refusals and stop is StopReason.END_TURN:
            stop = StopReason.REFUSAL
        data: dict[str, Any] = {"type": "message_delta", "delta": {}}
        if event.usage is not None:
            data["usage"] = anthropic_usage(event.usage)
        return MessageEnd(stop, event.provider_stop_reason, event.usage, data)

    def body(self, body: WireEvent, usage: Usage | None) -> WireEvent:
        """The body with Anthropic's usage object."""
        if usage is None:
            return body
        return WireEvent(RESPONSE_BODY, {**as_dict(body.data), "usage": anthropic_usage(usage)})
