"""Anthropic Messages on the wire: its API object and its endpoints.

`ANTHROPIC_MESSAGES` serves `/v1/messages` (`MESSAGES`) and `/v1/messages/count_tokens`
(`COUNT_TOKENS`, forwarded untouched). Named SSE events carry their `type`; errors are Anthropic's
shape, in-stream an `error` event.
"""

from __future__ import annotations

from luthien.wire.apis import Endpoint, WireApi
from luthien.wire.errors import ErrorKind, anthropic_error
from luthien.wire.events import WireEvent
from luthien.wire.formats import WireFormat


class AnthropicMessages(WireApi):
    """Anthropic Messages: named SSE events whose payload carries the same `type`."""

    name = "anthropic_messages"
    path = "/v1/messages"
    format = WireFormat.ANTHROPIC
    terminal_types = frozenset({"message_stop", "error"})
    input_counts_cached = False
    # Anthropic's own keep-alive event, which its SDKs skip.
    keepalive = b'event: ping\ndata: {"type": "ping"}\n\n'

    def stream_error(self, kind: ErrorKind, message: str, last: WireEvent | None) -> list[WireEvent]:
        """An `error` event; the Anthropic SDK raises it as `APIStatusError`."""
        return [WireEvent("error", anthropic_error(kind, message), "error")]


ANTHROPIC_MESSAGES = AnthropicMessages()
MESSAGES = Endpoint(
    ANTHROPIC_MESSAGES.path, ANTHROPIC_MESSAGES, {"model": str, "max_tokens": int, "messages": list}
)
COUNT_TOKENS = Endpoint(
    "/v1/messages/count_tokens", ANTHROPIC_MESSAGES, {"model": str, "messages": list}, applies_policy=False
)
ENDPOINTS = (MESSAGES, COUNT_TOKENS)
"""The model-call endpoints of the API."""
