"""The event: the unit a response travels the pipeline in, streaming or not.

An event decoded from upstream keeps the exact bytes it arrived as (`raw`). The pipeline writes those
bytes unchanged unless a stage replaced the event, in which case `raw` is None and the event is
serialized anew. Events are immutable: a stage that wants a different event makes a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# `type` values that are not taken from a payload.
COMMENT = "comment"
"""An SSE frame without data (a keep-alive comment). Passed through as is."""
DONE = "done"
"""OpenAI Chat's `data: [DONE]` terminator."""
RESPONSE_BODY = "response"
"""A whole non-streaming response body, carried as a one-event sequence."""


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One event of a response, in the client's wire format.

    Attributes:
        type: what the event is: the payload's `type` (Anthropic, Responses), `chat.completion.chunk`
            (OpenAI Chat), or one of `COMMENT`, `DONE`, `RESPONSE_BODY`.
        data: the parsed JSON payload (None for comments and `[DONE]`). Treat as read-only.
        sse_event: the SSE `event:` name the event is framed with, if any.
        raw: the exact bytes received, or None when the event must be serialized.
    """

    type: str
    data: Any
    sse_event: str | None = None
    raw: bytes | None = None
