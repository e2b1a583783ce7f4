"""OpenAI Chat's form of a translated answer's refusals and usage (`ClientShape`).

A refusal block is Chat's own `refusal` field, written as it is. Usage: the usage chunk
(`choices: []`) before `[DONE]` when the client asked for one, `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

from typing import Any

from luthien.apis.openai_chat.api import CHAT_CHUNK
from luthien.call.events import CallEvent, MessageEnd, Usage
from luthien.translation.client_shape import ClientShape, as_dict
from luthien.wire.events import DONE, RESPONSE_BODY, WireEvent

_CHUNK_KEYS = ("id", "object", "created", "model", "system_fingerprint", "service_tier")
"""Fields of a Chat chunk the usage chunk copies from the finish chunk."""


def chat_usage(usage: Usage) -> dict[str, Any]:
    """A Chat `usage` object."""
    prompt, completion = usage.input_tokens or 0, usage.output_tokens or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if usage.cache_read_input_tokens is not None:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cache_read_input_tokens}
    return out


class ChatShape(ClientShape):
    """Refusals as they are; the usage chunk and Chat's usage object."""

    def wire(self, event: CallEvent, wire: list[WireEvent]) -> list[WireEvent]:
        """The end with the usage chunk, when the client asked for it."""
        if not isinstance(event, MessageEnd) or event.usage is None or not self.usage_chunk:
            return wire
        return _with_usage_chunk(wire, event.usage)

    def body(self, body: WireEvent, usage: Usage | None) -> WireEvent:
        """The body with Chat's usage object."""
        if usage is None:
            return body
        return WireEvent(RESPONSE_BODY, {**as_dict(body.data), "usage": chat_usage(usage)})


def _with_usage_chunk(wire: list[WireEvent], usage: Usage) -> list[WireEvent]:
    """Chat's end with a usage chunk (`choices: []`) before `[DONE]`."""
    finish = next((item for item in wire if item.type == CHAT_CHUNK), None)
    base = {
        key: value for key, value in as_dict(finish.data if finish else None).items() if key in _CHUNK_KEYS
    }
    chunk = WireEvent(
        CHAT_CHUNK, {**base, "object": "chat.completion.chunk", "choices": [], "usage": chat_usage(usage)}
    )
    done = [index for index, item in enumerate(wire) if item.type == DONE]
    at = done[0] if done else len(wire)
    return [*wire[:at], chunk, *wire[at:]]
