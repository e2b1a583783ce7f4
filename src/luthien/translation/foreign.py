"""Making decoded events foreign: what an upstream's events mean, without the upstream's wire form.

A response translated from one API to another is decoded by the upstream API's decoder and encoded by
the client API's encoder. The decoder's events carry the upstream's wire form: `hints`, tagged with
the upstream's API, which another API's encoder ignores by construction; and `origin` (its raw
bytes) and `data` / `wire_fields` (its payloads, templates for re-encoding in the same API), which
are not tagged and which the client's encoder must never see. `ForeignEvents` rebuilds every event
from its meaning alone (new events, so without origin or hints):

- text, thinking and tool calls (id, name, arguments) pass; a refusal (Chat's `refusal` field, a
  Responses `refusal` part) becomes an OTHER block marked `REFUSAL`, with its text as deltas;
- a thinking signature (Anthropic) or a reasoning item's `encrypted_content` (Responses) is sealed
  with the upstream API's name (`luthien.translation.envelope`), sent as one piece at the block's end;
- any other block (redacted thinking, server-tool calls and results, citations-only deltas...) has no
  counterpart in another API: dropped, logged at debug;
- `Opaque` events are the upstream's own: a keep-alive (Anthropic `ping`, an SSE comment) becomes the
  client's keep-alive (`WireApi.keepalive`), anything else is dropped; an upstream
  in-stream error (Anthropic `error`, Chat's error chunk, Responses `error` or `response.failed`)
  raises `UpstreamStreamError`, which ends the client's stream with the client's own error event;
- the stop reason keeps its normalized meaning; a provider value with no normalized name is mapped
  by `STOP_REASONS` or dropped (the client's encoder then writes its plain stop);
- usage is converted to the client's sense of input tokens (`client_usage`).

States of one upstream block (keyed by its upstream index; a dropped block is one never registered):

```mermaid
stateDiagram-v2
    [*] --> passing: BlockStart (text, thinking, tool call, refusal)
    [*] --> dropped: BlockStart (any other kind)
    passing --> passing: BlockDelta (text kept; signature held; payload-only dropped)
    dropped --> dropped: BlockDelta (dropped)
    passing --> [*]: BlockComplete (missing text, sealed signature, then the completion)
    dropped --> [*]: BlockComplete (dropped)
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.anthropic_messages.codec import usage_of as anthropic_usage
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.assembly import BlockAssembly
from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Opaque,
    StopReason,
    ToolCall,
    Usage,
)
from luthien.translation.envelope import seal
from luthien.translation.errors import in_stream_error
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import WireApi
from luthien.wire.events import COMMENT, WireEvent

logger = logging.getLogger("luthien.translation")

REFUSAL: dict[str, Any] = {"type": "refusal"}
"""`data` of an OTHER block that is a refusal, in every API (each client's shaper writes its form)."""
REFUSAL_DELTA = "response.refusal.delta"
"""The Responses event that carries a piece of a refusal part."""
FAILED_REASON = "failed"
KEEPALIVE_TYPES = frozenset({COMMENT, "ping"})
"""Upstream events that only keep the connection open (SSE comments, Anthropic's `ping`)."""
"""`provider_stop_reason` of a Responses `response.failed` end."""

STOP_REASONS: dict[str, StopReason] = {
    # Anthropic: the context window, not `max_tokens`, cut the answer off: still cut off.
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
    # Chat's legacy single function call.
    "function_call": StopReason.TOOL_USE,
    # Responses: `incomplete_details.reason` when the content filter stopped the answer.
    "content_filter": StopReason.REFUSAL,
}
"""Provider stop reasons with no normalized name, by what they mean to a client of another API."""


def is_refusal(data: dict[str, Any] | None) -> bool:
    """Whether a block's `data` marks it as a refusal (Chat's field or a Responses part)."""
    return data is not None and data.get("type") == REFUSAL["type"]


def client_usage(usage: Usage | None, upstream: WireApi, client: WireApi) -> Usage | None:
    """`usage` in the client's sense: OpenAI's input tokens include cached ones, Anthropic's do not."""
    if (
        usage is None
        or usage.input_tokens is None
        or upstream.input_counts_cached == client.input_counts_cached
    ):
        return usage
    cached = usage.cache_read_input_tokens or 0
    if not upstream.input_counts_cached:
        written = usage.cache_creation_input_tokens or 0
        return Usage(
            usage.input_tokens + cached + written, usage.output_tokens, usage.cache_read_input_tokens
        )
    return Usage(max(usage.input_tokens - cached, 0), usage.output_tokens, usage.cache_read_input_tokens)


@dataclass(slots=True)
class _Passing:
    """An upstream block being passed on: what was passed so far, and its held signature."""

    assembly: BlockAssembly
    signature: list[str] = field(default_factory=list[str])


class ForeignEvents:
    """Rebuilds one call's decoded events from their meaning (see the module docstring)."""

    def __init__(self, upstream: WireApi, client: WireApi) -> None:
        self._upstream = upstream
        self._client = client
        self._passing: dict[int, _Passing] = {}
        self._start_usage: Usage | None = None

    def convert(self, events: list[CallEvent]) -> list[CallEvent]:
        """The foreign events for some decoded events.

        Raises:
            UpstreamStreamError: the upstream reported an error in its stream.
        """
        return [out for event in events for out in self._one(event)]

    def _one(self, event: CallEvent) -> list[CallEvent]:
        if isinstance(event, MessageStart):
            if self._upstream is ANTHROPIC_MESSAGES and event.data is not None:
                # Anthropic counts the prompt at the start; the end carries the output tokens.
                self._start_usage = anthropic_usage(event.data.get("usage"))
            return [MessageStart(event.message_id, event.model)]
        if isinstance(event, BlockStart):
            return self._start(event)
        if isinstance(event, BlockDelta):
            return self._delta(event)
        if isinstance(event, BlockComplete):
            return self._complete(event)
        if isinstance(event, MessageEnd):
            return [self._end(event)]
        # An `Opaque` event: the upstream's own (keep-alives, lifecycle events), or its in-stream error.
        if event.wire.type == "error":
            kind, message = in_stream_error(event.wire.data)
            raise UpstreamStreamError(kind, message)
        if event.wire.type in KEEPALIVE_TYPES:
            # The client's keep-alive in its place: the upstream's keep the client's connection open.
            return [Opaque(WireEvent(COMMENT, None, None, self._client.keepalive))]
        logger.debug("translation: dropped upstream event %s", event.wire.type)
        return []

    def _start(self, event: BlockStart) -> list[CallEvent]:
        if event.kind is BlockKind.OTHER and not is_refusal(event.data):
            logger.debug("translation: dropped a block with no counterpart: %s", _type_of(event.data))
            return []
        call = event.tool_call
        start = BlockStart(
            event.index,
            event.kind,
            tool_call=ToolCall(call.id, call.name, "") if call is not None else None,
            data=dict(REFUSAL) if event.kind is BlockKind.OTHER else None,
        )
        self._passing[event.index] = _Passing(BlockAssembly(start))
        return [start]

    def _delta(self, event: BlockDelta) -> list[CallEvent]:
        block = self._passing.get(event.index)
        if block is None:
            return []
        if event.signature is not None:
            block.signature.append(event.signature)
            return []
        text = event.text
        if event.data is not None:
            # A payload-only delta: its meaning is a refusal's piece, or nothing another API has.
            text = str(event.data.get("delta", "")) if event.data.get("type") == REFUSAL_DELTA else ""
        return self._text(block, text)

    def _text(self, block: _Passing, text: str) -> list[CallEvent]:
        if not text:
            return []
        start = block.assembly.start
        delta = BlockDelta(start.index, start.kind, text=text)
        block.assembly.add(delta)
        return [delta]

    def _complete(self, event: BlockComplete) -> list[CallEvent]:
        block = self._passing.pop(event.index, None)
        if block is None:  # a dropped block (decoders start every block they complete)
            return []
        out: list[CallEvent] = []
        final = _final_text(event.block)
        streamed = block.assembly.text
        if final.startswith(streamed) and len(final) > len(streamed):
            out.extend(self._text(block, final[len(streamed) :]))
        token = "".join(block.signature) or event.block.signature
        if token:
            start = block.assembly.start
            signature = BlockDelta(start.index, start.kind, signature=seal(self._upstream.name, token))
            block.assembly.add(signature)
            out.append(signature)
        return [*out, BlockComplete(event.index, block.assembly.block())]

    def _end(self, event: MessageEnd) -> MessageEnd:
        if self._upstream is OPENAI_RESPONSES and event.provider_stop_reason == FAILED_REASON:
            response: Any = (event.data or {}).get("response")
            kind, message = in_stream_error(response if isinstance(response, dict) else None)
            raise UpstreamStreamError(kind, message)
        stop = event.stop_reason
        if stop is StopReason.OTHER:
            stop = STOP_REASONS.get(event.provider_stop_reason or "", StopReason.OTHER)
        usage = event.usage
        if self._start_usage is not None:
            usage = _merged(self._start_usage, usage)
        return MessageEnd(stop, usage=client_usage(usage, self._upstream, self._client))


def _type_of(data: dict[str, Any] | None) -> str:
    return str((data or {}).get("type", "unknown"))


def _final_text(block: Block) -> str:
    """What a completed upstream block says its text is (a Responses refusal part: its `refusal`)."""
    if block.kind is BlockKind.TOOL_CALL:
        return "" if block.tool_call is None else block.tool_call.arguments
    if block.kind is BlockKind.OTHER and block.data is not None and not block.text:
        return str(block.data.get("refusal") or "")
    return block.text


def _merged(start: Usage, end: Usage | None) -> Usage:
    """The end's usage, its missing counts taken from the start's."""
    if end is None:
        return start
    return Usage(
        end.input_tokens if end.input_tokens is not None else start.input_tokens,
        end.output_tokens if end.output_tokens is not None else start.output_tokens,
        end.cache_read_input_tokens
        if end.cache_read_input_tokens is not None
        else start.cache_read_input_tokens,
        end.cache_creation_input_tokens
        if end.cache_creation_input_tokens is not None
        else start.cache_creation_input_tokens,
    )
