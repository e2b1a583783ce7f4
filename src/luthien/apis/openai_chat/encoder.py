"""Encoding normalized events back into an OpenAI Chat Completions stream.

An event whose origin arrives whole and unchanged is sent as the upstream's chunks, when their
tool-call `index` values are the ones the client must see; anything else is serialized anew, copying
the stream's `id`, `object`, `created`, `model`, `service_tier`, `system_fingerprint` (and
`usage: null` when the stream has it) from `MessageStart.data`. Text, thinking and refusal
`BlockStart`s and every `BlockComplete` produce no chunk; tool-call `index` counts the tool calls sent.
The end is the finish chunk, the upstream's trailing chunks (usage) and `[DONE]`, unless the upstream
never sent `[DONE]`: then none is made up, and the stream ends incomplete as it did upstream.

The encoder shares nothing with the decoder: what it knows of the upstream's wire form beyond the
events' meaning comes from `ChatHints` on them (the trailing chunks, `[DONE]`, the reasoning field, a
tool call's wire `index`). Events without Chat hints (built by a policy, or translated from another
API) are written in Chat's plain form: reasoning as `reasoning_content`, a made-up `[DONE]`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from luthien.apis.openai_chat.fields import (
    BASE_KEYS,
    BLOCK_KEYS,
    CHUNK,
    REASONING_KEYS,
    TEXT_BLOCK_SEPARATOR,
    ChatHints,
    as_dict,
    custom_input,
    finish_reason,
    first_choice,
    is_content,
    is_custom,
    is_refusal,
    patched_usage,
    tool_json,
)
from luthien.call.codec import OriginGrouping
from luthien.call.events import (
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Opaque,
    ToolCall,
    Usage,
    hints_of,
)
from luthien.wire.events import DONE, WireEvent

_CHOICE: dict[str, Any] = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}


class ChatStreamEncoder:
    """Encodes one call's normalized events as Chat chunks (see the module docstring)."""

    def __init__(self) -> None:
        self._grouping = OriginGrouping()
        self._base: dict[str, Any] = {}
        self._ordinals: dict[int, int] = {}
        self._current: BlockStart | None = None
        # Chat has one content string: a text block after text already sent is set off by a blank
        # line, so e.g. a blocked-tool message does not run into the model's sentence; two pieces of
        # the model's own content are one string upstream and stay one.
        self._text_blocks_sent = 0
        self._last_text_was_content = False
        self._current_text_sent = False
        self._custom_sent: dict[int, str] = {}
        """Custom tool calls (by block index): the input the client was sent so far."""
        self._reasoning_keys: tuple[str, ...] = ()
        """The reasoning field(s) the upstream used, as the first hinted THINKING event said."""

    def encode(self, event: CallEvent) -> list[WireEvent]:
        """See `CallCodec.encode`."""
        synthesize, origin, grouped = self._grouping.offer(event)
        out = [wire for item in synthesize for wire in self._synthesize(item)]
        if origin is not None:
            if self._raw_ok(grouped):
                for item in grouped:
                    self._track(item)
                out.extend(origin.wire)
            else:
                out.extend(wire for item in grouped for wire in self._synthesize(item))
        return out

    def finish_encode(self) -> list[WireEvent]:
        """Re-serialize any incomplete group."""
        return [wire for item in self._grouping.flush() for wire in self._synthesize(item)]

    def _raw_ok(self, events: list[CallEvent]) -> bool:
        """Whether the raw chunks number their tool calls as the client must see them (0, 1, ..)."""
        ordinals = dict(self._ordinals)
        for event in events:
            if isinstance(event, BlockStart | BlockDelta) and event.kind is BlockKind.TOOL_CALL:
                if isinstance(event, BlockStart):
                    ordinals[event.index] = len(ordinals)
                hints = hints_of(event, ChatHints)
                wire = hints.tool_index if hints is not None else None
                if wire is not None and wire != ordinals.get(event.index):
                    return False
        return True

    def _track(self, event: CallEvent) -> None:
        hints = hints_of(event, ChatHints)
        if hints is not None and hints.reasoning_keys and not self._reasoning_keys:
            self._reasoning_keys = hints.reasoning_keys
        if isinstance(event, MessageStart):
            data = event.data or {"object": CHUNK, "created": int(time.time()), "choices": []}
            base = {key: value for key, value in data.items() if key in BASE_KEYS}
            self._base = {**base, **({"usage": None} if "usage" in base else {})}
            self._base.update(id=event.message_id, model=event.model)
        elif isinstance(event, BlockStart):
            self._current = event
            self._current_text_sent = False
            if event.kind is BlockKind.TOOL_CALL:
                self._ordinals[event.index] = len(self._ordinals)
                if is_custom(event.data):
                    self._custom_sent[event.index] = ""
        elif isinstance(event, BlockDelta) and event.index in self._custom_sent and event.data is not None:
            self._custom_sent[event.index] += str(event.data.get("input", ""))
        elif (
            isinstance(event, BlockDelta)
            and event.kind is BlockKind.TEXT
            and event.text
            and not self._current_text_sent
        ):
            self._current_text_sent = True
            self._text_blocks_sent += 1
            self._last_text_was_content = self._current_is_content()

    def _current_is_content(self) -> bool:
        return self._current is not None and is_content(self._current.data)

    def _separates(self, event: CallEvent) -> bool:
        """Whether a synthesized text delta opens a text block that must be set off from earlier text."""
        return (
            isinstance(event, BlockDelta)
            and event.kind is BlockKind.TEXT
            and bool(event.text)
            and event.data is None
            and not self._current_text_sent
            and self._text_blocks_sent > 0
            and not (self._last_text_was_content and self._current_is_content())
        )

    def _chunk(self, delta: dict[str, Any], template: dict[str, Any] | None = None) -> WireEvent:
        choice = {**(template or _CHOICE), "delta": delta}
        payload = {**self._base, "choices": [choice]}
        payload.setdefault("object", CHUNK)
        return WireEvent(CHUNK, payload)

    def _synthesize(self, event: CallEvent) -> list[WireEvent]:
        separate = self._separates(event)
        self._track(event)
        if separate and isinstance(event, BlockDelta):
            event = dataclasses.replace(event, text=TEXT_BLOCK_SEPARATOR + event.text)
        match event:
            case MessageStart():
                template = first_choice(event.data) or _CHOICE
                delta = as_dict(template.get("delta"))
                delta = {k: v for k, v in delta.items() if k not in BLOCK_KEYS or not v}
                return [self._chunk({"role": "assistant", **delta}, template)]
            case BlockStart() if event.kind is BlockKind.TOOL_CALL:
                entry = {**as_dict(event.data), "index": self._ordinals[event.index]}
                call = event.tool_call or ToolCall("", "")
                return [self._chunk({"tool_calls": [tool_json(call, entry, "")]})]
            case BlockDelta():
                delta = self._delta(event)
                return [self._text_chunk(event, delta)] if delta is not None else []
            case MessageEnd():
                return self._end_chunks(event)
            case Opaque():
                return [event.wire]
            case _:
                return []

    def _delta(self, event: BlockDelta) -> dict[str, Any] | None:
        if event.index in self._custom_sent:
            return self._custom_delta(event)
        if event.data is not None:
            return event.data
        if event.signature is not None or not event.text:
            return None
        if event.kind is BlockKind.TEXT:
            return {"content": event.text}
        if event.kind is BlockKind.THINKING:
            return dict.fromkeys(self._reasoning_keys or REASONING_KEYS[:1], event.text)
        if event.kind is BlockKind.TOOL_CALL:
            tool = {"index": self._ordinals.get(event.index, 0), "function": {"arguments": event.text}}
            return {"tool_calls": [tool]}
        if self._current is not None and is_refusal(self._current.data):
            return {"refusal": event.text}
        return None

    def _text_chunk(self, event: BlockDelta, delta: dict[str, Any]) -> WireEvent:
        """A re-serialized piece keeps its chunk's other fields; `logprobs` only if its text is unchanged."""
        fields = event.wire_fields
        if fields is None or event.data is not None:
            return self._chunk(delta)
        logprobs = fields.get("logprobs") if fields.get("text") == event.text else None
        return self._chunk({**as_dict(fields.get("delta")), **delta}, {**_CHOICE, "logprobs": logprobs})

    def _custom_delta(self, event: BlockDelta) -> dict[str, Any] | None:
        """A custom call's input fragment: as it came, or what its whole arguments add to what was sent."""
        if event.data is not None:
            piece = str(event.data.get("input", ""))  # already counted as sent by `_track`
        else:
            text = custom_input(ToolCall("", "", event.text))
            sent = self._custom_sent[event.index]
            piece = text[len(sent) :] if text.startswith(sent) else ""
            self._custom_sent[event.index] = sent + piece
        if not piece:
            return None
        return {"tool_calls": [{"index": self._ordinals.get(event.index, 0), "custom": {"input": piece}}]}

    def _end_chunks(self, event: MessageEnd) -> list[WireEvent]:
        template = first_choice(event.data) or _CHOICE
        delta = {k: v for k, v in as_dict(template.get("delta")).items() if k not in BLOCK_KEYS}
        choice = {**template, "delta": delta, "finish_reason": finish_reason(event)}
        payload = as_dict(self._chunk(delta, choice).data)
        if event.data is not None:  # the finish chunk as a template, e.g. for a usage it carries
            payload = {**event.data, **{k: v for k, v in payload.items() if k != "usage"}}
        hints = hints_of(event, ChatHints) or ChatHints()
        out = [WireEvent(CHUNK, payload), *hints.trailer]
        if event.usage is not None and event.usage != hints.usage:
            out = [_with_usage(wire, event.usage) for wire in out]
        if hints.done is not None:
            return [*out, hints.done]
        if hints.ended_without_done:
            return out  # the upstream never finished: neither does this stream
        return [*out, WireEvent(DONE, None)]


def _with_usage(wire: WireEvent, usage: Usage) -> WireEvent:
    data = as_dict(wire.data)
    if not isinstance(data.get("usage"), dict):
        return wire
    return WireEvent(wire.type, {**data, "usage": patched_usage(data["usage"], usage)}, wire.sse_event)
