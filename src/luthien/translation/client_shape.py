"""The client API's form of what has no common normalized form: refusals and usage.

Foreign events (`luthien.translation.foreign`) say what a response means; most of it every encoder
writes from the normalized events alone. What remains is written here, on the encoding side, after
the policy and the repairer:

- a refusal block (OTHER, `data` `REFUSAL`): Chat writes it as its `refusal` field as it is; Responses
  as a `refusal` content part (its pieces as `response.refusal.delta` payloads, its end with the
  whole refusal); Anthropic, which has no refusal block, as text, and the plain stop as `refusal`;
- the response object of a Responses client (`response.created`, the terminal event, a body) has
  every field the API documents (`RESPONSE_FIELDS`), none of which the upstream's answer supplies;
- usage: Anthropic's `message_delta` carries input, output and cache counts; Chat gets the usage
  chunk (`choices: []`) before `[DONE]` when it asked for one, and
  `prompt_tokens_details.cached_tokens`; Responses gets `input_tokens_details.cached_tokens` in the
  terminal response.
"""

from __future__ import annotations

import time
from typing import Any, cast

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import CHAT_CHUNK, OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    StopReason,
    Usage,
)
from luthien.translation.foreign import REFUSAL, REFUSAL_DELTA, is_refusal
from luthien.wire.apis import WireApi
from luthien.wire.events import DONE, RESPONSE_BODY, WireEvent

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
_CHUNK_KEYS = ("id", "object", "created", "model", "system_fingerprint", "service_tier")
"""Fields of a Chat chunk the usage chunk copies from the finish chunk."""


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    """An Anthropic `usage` object."""
    counts = {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
    }
    return {key: value for key, value in counts.items() if value is not None}


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


class ClientShape:
    """Writes one call's refusals and usage in the client's form (see the module docstring)."""

    def __init__(self, client: WireApi, usage_chunk: bool = True) -> None:
        """Set up for one call.

        Args:
            client: the client's API.
            usage_chunk: whether a Chat client's stream ends with the usage chunk (OpenAI sends it
                only to a client that asked, with `stream_options.include_usage`).
        """
        self._client = client
        self._usage_chunk = usage_chunk
        self._refusals: set[int] = set()

    def event(self, event: CallEvent) -> CallEvent:
        """`event` as the client's encoder must receive it."""
        match event:
            case BlockStart() if event.kind is BlockKind.OTHER and is_refusal(event.data):
                self._refusals.add(event.index)
                if self._client is ANTHROPIC_MESSAGES:
                    return BlockStart(event.index, BlockKind.TEXT)
                if self._client is OPENAI_RESPONSES:
                    return BlockStart(event.index, BlockKind.OTHER, data={**REFUSAL, "refusal": ""})
            case BlockDelta() if event.index in self._refusals and event.text:
                if self._client is ANTHROPIC_MESSAGES:
                    return BlockDelta(event.index, BlockKind.TEXT, text=event.text)
                if self._client is OPENAI_RESPONSES:
                    # The encoder renumbers the payload to the part it sends.
                    where = {"item_id": "", "output_index": 0, "content_index": 0}
                    return BlockDelta(
                        event.index,
                        BlockKind.OTHER,
                        data={"type": REFUSAL_DELTA, **where, "delta": event.text},
                    )
            case BlockComplete() if event.index in self._refusals:
                if self._client is ANTHROPIC_MESSAGES:
                    return BlockComplete(event.index, Block(BlockKind.TEXT, text=event.block.text))
                if self._client is OPENAI_RESPONSES:
                    part = {**REFUSAL, "refusal": event.block.text}
                    return BlockComplete(
                        event.index, Block(BlockKind.OTHER, text=event.block.text, data=part)
                    )
            case MessageStart() if self._client is OPENAI_RESPONSES and event.data is None:
                response = {"id": event.message_id, "created_at": int(time.time()), **RESPONSE_FIELDS}
                return MessageStart(event.message_id, event.model, data={**response, "model": event.model})
            case MessageEnd() if self._client is ANTHROPIC_MESSAGES:
                return self._anthropic_end(event)
            case _:
                pass
        return event

    def _anthropic_end(self, event: MessageEnd) -> MessageEnd:
        stop = event.stop_reason
        if self._refusals and stop is StopReason.END_TURN:
            stop = StopReason.REFUSAL
        data: dict[str, Any] = {"type": "message_delta", "delta": {}}
        if event.usage is not None:
            data["usage"] = anthropic_usage(event.usage)
        return MessageEnd(stop, event.provider_stop_reason, event.usage, data)

    def wire(self, event: CallEvent, wire: list[WireEvent]) -> list[WireEvent]:
        """The encoder's output for `event`, with the usage the client's form adds."""
        if not isinstance(event, MessageEnd) or event.usage is None:
            return wire
        if self._client is OPENAI_CHAT:
            return _with_usage_chunk(wire, event.usage) if self._usage_chunk else wire
        if self._client is OPENAI_RESPONSES:
            return [_with_cached(item, event.usage) for item in wire]
        return wire

    def body(self, body: WireEvent, usage: Usage | None) -> WireEvent:
        """A whole body with the usage the client's form adds."""
        data = _dict(body.data)
        if self._client is OPENAI_RESPONSES:
            created = data.get("created_at") or int(time.time())
            body = WireEvent(RESPONSE_BODY, {**RESPONSE_FIELDS, **data, "created_at": created})
        if usage is None:
            return body
        if self._client is ANTHROPIC_MESSAGES:
            data = {**data, "usage": anthropic_usage(usage)}
        elif self._client is OPENAI_CHAT:
            data = {**data, "usage": chat_usage(usage)}
        else:
            return _with_cached(body, usage)
        return WireEvent(RESPONSE_BODY, data)


def _with_usage_chunk(wire: list[WireEvent], usage: Usage) -> list[WireEvent]:
    """Chat's end with a usage chunk (`choices: []`) before `[DONE]`."""
    finish = next((item for item in wire if item.type == CHAT_CHUNK), None)
    base = {key: value for key, value in _dict(finish.data if finish else None).items() if key in _CHUNK_KEYS}
    chunk = WireEvent(
        CHAT_CHUNK, {**base, "object": "chat.completion.chunk", "choices": [], "usage": chat_usage(usage)}
    )
    done = [index for index, item in enumerate(wire) if item.type == DONE]
    at = done[0] if done else len(wire)
    return [*wire[:at], chunk, *wire[at:]]


def _with_cached(event: WireEvent, usage: Usage) -> WireEvent:
    """A Responses terminal event (or body) whose usage reports the cached input tokens."""
    if usage.cache_read_input_tokens is None:
        return event
    data = _dict(event.data)
    response = _dict(data.get("response")) if event.type != RESPONSE_BODY else data
    counts = _dict(response.get("usage"))
    if not counts:
        return event
    details = {**_dict(counts.get("input_tokens_details")), "cached_tokens": usage.cache_read_input_tokens}
    response = {**response, "usage": {**counts, "input_tokens_details": details}}
    payload = response if event.type == RESPONSE_BODY else {**data, "response": response}
    return WireEvent(event.type, payload, event.sse_event)
