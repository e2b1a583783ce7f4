"""OpenAI Chat Completions on the wire: its API object and its endpoint.

`OPENAI_CHAT` serves `/v1/chat/completions`: unnamed `data:` chunks ended by `data: [DONE]`; errors
are OpenAI's shape, in-stream a chunk carrying `error`.
"""

from __future__ import annotations

from typing import Any

from luthien.wire.apis import UNPARSED, Endpoint, WireApi
from luthien.wire.errors import ErrorKind, openai_error
from luthien.wire.events import DONE, WireEvent
from luthien.wire.formats import WireFormat
from luthien.wire.sse import SSEFrame

CHAT_CHUNK = "chat.completion.chunk"
"""`type` of an OpenAI Chat stream event that carries `choices`."""


class OpenAIChat(WireApi):
    """OpenAI Chat Completions: unnamed `data:` chunks ended by `data: [DONE]`."""

    name = "openai_chat"
    path = "/v1/chat/completions"
    format = WireFormat.OPENAI
    terminal_types = frozenset({DONE, "error"})

    def decode(self, frame: SSEFrame) -> WireEvent:
        """Like the base, plus `[DONE]` and chunks that carry an `error` object."""
        if frame.data == "[DONE]":
            return WireEvent(DONE, None, frame.event, frame.raw)
        return super().decode(frame)

    def _event_type(self, data: Any, sse_event: str | None) -> str:
        if isinstance(data, dict):
            if "error" in data:
                return "error"
            # Clients read `choices` whatever `object` says: so does Luthien, or a chunk with an odd
            # `object` would pass unread.
            if "choices" in data:
                return CHAT_CHUNK
            kind = data.get("object")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(kind, str):
                return kind
        return UNPARSED

    def stream_error(self, kind: ErrorKind, message: str, last: WireEvent | None) -> list[WireEvent]:
        """A chunk carrying `error` (the OpenAI SDK raises `APIError`) and the `[DONE]` terminator."""
        return [WireEvent("error", openai_error(kind, message)), WireEvent(DONE, None)]


OPENAI_CHAT = OpenAIChat()
CHAT_COMPLETIONS = Endpoint(OPENAI_CHAT.path, OPENAI_CHAT, {"model": str, "messages": list})
ENDPOINTS = (CHAT_COMPLETIONS,)
"""The model-call endpoints of the API."""
