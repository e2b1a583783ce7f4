"""OpenAI Chat Completions ↔ normalized events.

Chat has no block events: a block is implied by which field of `choices[0].delta` a chunk fills, and
it ends when a chunk fills another (or the stream finishes). Only choice 0 is interpreted.

Stream mapping (decode; encode is the reverse):

| wire (choice 0 of each chunk)                | normalized                                              |
|----------------------------------------------|---------------------------------------------------------|
| the first chunk                              | `MessageStart` (data: the chunk), then as below         |
| `delta.reasoning_content`, `delta.reasoning` | THINKING `BlockStart` at the first non-empty piece, deltas |
| `delta.content`                              | TEXT `BlockStart` likewise, `BlockDelta`s               |
| `delta.refusal`                              | OTHER (`data={"type": "refusal"}`) likewise             |
| `delta.tool_calls[i]`, a new `index`         | TOOL_CALL `BlockStart` (data: the entry), `BlockDelta`  |
| `delta.tool_calls[i]`, the open call         | TOOL_CALL `BlockDelta` (a `function.arguments` piece)   |
| a chunk that begins another block            | first, `BlockComplete` of the open block                |
| finish chunk, later chunks (usage), `[DONE]` | its events, `BlockComplete`, `MessageEnd` (at `[DONE]`) |
| comments, errors, other choices, empty deltas | `Opaque`                                              |

The events decoded from one chunk share `Origin((chunk,), parts=n)`, except a leading `BlockComplete`
(closing a block earlier chunks carried), which has no wire form: its origin is empty. The finish
chunk and what follows it share one origin with `MessageEnd`. Encoding a text, thinking or refusal
`BlockStart`, or any `BlockComplete`, produces no chunk. Synthesized chunks copy the stream's
`id`, `object`, `created`, `model`, `service_tier`, `system_fingerprint` (and `usage: null` when the
stream has it) from `MessageStart.data`; tool-call `index` counts the tool calls sent.

| `finish_reason`   | `StopReason`                  |
|-------------------|-------------------------------|
| `stop`            | END_TURN (STOP_SEQUENCE, PAUSE_TURN encode as `stop`) |
| `tool_calls`      | TOOL_USE                      |
| `length`          | MAX_TOKENS                    |
| `content_filter`  | REFUSAL                       |
| anything else     | OTHER, the value kept in `provider_stop_reason` |

A non-streaming `chat.completion` maps `choices[0].message` to the same blocks, in the order reasoning,
content, refusal, tool calls.

Not representable: choices other than 0 (`n` > 1) pass as `Opaque` chunks (in a body, untouched); a
tool-call fragment arriving after another call started is dropped (no policy saw it); `logprobs` and
`annotations` of changed text are not adjusted.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, cast

from luthien.call.assembly import BlockAssembly, whole_block_events
from luthien.call.codec import OriginGrouping, body_events, is_unchanged_body
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
    Origin,
    StopReason,
    ToolCall,
    Usage,
    with_origin,
)
from luthien.pipeline.events import DONE, RESPONSE_BODY, WireEvent

CHUNK = "chat.completion.chunk"
_REASONING_KEYS = ("reasoning_content", "reasoning")
TEXT_BLOCK_SEPARATOR = "\n\n"
"""Between two text blocks of one message, which Chat carries as one content string."""
_BLOCK_KEYS = frozenset({"content", "refusal", "tool_calls", *_REASONING_KEYS})
_BASE_KEYS = frozenset(
    {"id", "object", "created", "model", "service_tier", "system_fingerprint", "choices", "usage"}
)
_REFUSAL: dict[str, Any] = {"type": "refusal"}
_CHOICE: dict[str, Any] = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}
_FINISH = {
    "stop": StopReason.END_TURN,
    "tool_calls": StopReason.TOOL_USE,
    "length": StopReason.MAX_TOKENS,
    "content_filter": StopReason.REFUSAL,
}
_FINISH_OUT = {reason: value for value, reason in _FINISH.items()}


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def _choice(data: Any) -> dict[str, Any] | None:
    """Choice 0 of a chunk or completion, if it has one."""
    for choice in _list(_dict(data).get("choices")):
        if _dict(choice).get("index", 0) == 0:
            return _dict(choice)
    return None


def stop_reason(value: Any) -> StopReason:
    """Normalize a `finish_reason` (a missing one counts as a plain stop)."""
    return StopReason.END_TURN if value is None else _FINISH.get(str(value), StopReason.OTHER)


def finish_reason(event: MessageEnd) -> str:
    """The `finish_reason` for a normalized end."""
    if event.stop_reason is StopReason.OTHER:
        return event.provider_stop_reason or "stop"
    return _FINISH_OUT.get(event.stop_reason, "stop")


def _usage(value: Any) -> Usage | None:
    usage = _dict(value)
    if not usage:
        return None
    return Usage(input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"))


def _patched_usage(value: Any, usage: Usage) -> dict[str, Any]:
    patched = dict(_dict(value))
    if usage.input_tokens is not None:
        patched["prompt_tokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        patched["completion_tokens"] = usage.output_tokens
    if isinstance(patched.get("prompt_tokens"), int) and isinstance(patched.get("completion_tokens"), int):
        patched["total_tokens"] = patched["prompt_tokens"] + patched["completion_tokens"]
    return patched


def _is_refusal(data: dict[str, Any] | None) -> bool:
    return data is not None and data.get("type") == "refusal"


def _tool_json(call: ToolCall, template: dict[str, Any], arguments: str) -> dict[str, Any]:
    """A tool-call object (stream entry or message entry) from the provider's one as a template."""
    function = {**_dict(template.get("function")), "name": call.name, "arguments": arguments}
    return {**template, "id": call.id, "type": template.get("type", "function"), "function": function}


class OpenAIChatCodec:
    """Decodes and encodes one Chat Completions call (see the module docstring for the mapping)."""

    def __init__(self) -> None:
        # decoding
        self._started = False
        self._closed = False
        self._dropped = False
        self._open: BlockAssembly | None = None
        self._open_key: int | str | None = None
        self._tools: dict[int | str, int] = {}
        self._wire_tool_index: dict[int, int] = {}
        self._next_index = 0
        self._held: list[WireEvent] | None = None
        self._held_events: list[CallEvent] = []
        self._finish: dict[str, Any] | None = None
        self._trailer: tuple[WireEvent, ...] = ()
        self._done: WireEvent | None = None
        self._usage: Usage | None = None
        self._reasoning_keys: tuple[str, ...] = ()
        # encoding
        self._grouping = OriginGrouping()
        self._base: dict[str, Any] = {}
        self._ordinals: dict[int, int] = {}
        self._current: BlockStart | None = None
        # Chat has one content string: a text block after text already sent is set off by a blank
        # line, so e.g. a blocked-tool message does not run into the model's sentence.
        self._text_blocks_sent = 0
        self._current_text_sent = False
        self._body: WireEvent | None = None

    # --- decoding -------------------------------------------------------------------------------

    def decode(self, event: WireEvent) -> list[CallEvent]:
        """See `CallCodec.decode`."""
        if self._held is not None:
            if event.type == DONE:
                return self._end(event)
            self._held.append(event)
            return []
        if event.type == "error":
            self._closed = True
        elif event.type == DONE and self._started and not self._closed:
            self._held = []
            return self._end(event)
        elif not self._closed and event.type == CHUNK and (choice := _choice(event.data)) is not None:
            events = self._chunk_events(_dict(event.data), choice)
            if choice.get("finish_reason"):
                self._held, self._held_events, self._finish = [event], events, _dict(event.data)
                return []
            if events:
                return _attach(events, (event,))
            if self._dropped:
                self._dropped = False
                return []
        return [with_origin(Opaque(event), Origin((event,)))]

    def finish_decode(self) -> list[CallEvent]:
        """A finish chunk not followed by `[DONE]` still ends the message; open blocks stay incomplete."""
        return self._end(None) if self._held is not None else []

    def _chunk_events(self, data: dict[str, Any], choice: dict[str, Any]) -> list[CallEvent]:
        events: list[CallEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(str(data.get("id", "")), str(data.get("model", "")), data=data))
        delta = _dict(choice.get("delta"))
        reasoning = [key for key in _REASONING_KEYS if isinstance(delta.get(key), str) and delta[key]]
        if reasoning:
            self._reasoning_keys = self._reasoning_keys or tuple(reasoning)
            events.extend(self._piece(BlockKind.THINKING, delta[reasoning[0]]))
        for key, kind in (("content", BlockKind.TEXT), ("refusal", BlockKind.OTHER)):
            if isinstance(delta.get(key), str) and delta[key]:
                events.extend(self._piece(kind, delta[key]))
        for entry in _list(delta.get("tool_calls")):
            events.extend(self._tool_piece(_dict(entry)))
        return events

    def _begin(self, start: BlockStart) -> list[CallEvent]:
        closed = self._close()
        self._open = BlockAssembly(start)
        self._next_index += 1
        return [*closed, start]

    def _close(self) -> list[CallEvent]:
        assembly, self._open, self._open_key = self._open, None, None
        return [] if assembly is None else [BlockComplete(assembly.start.index, assembly.block())]

    def _add(self, assembly: BlockAssembly, text: str) -> list[CallEvent]:
        if not text:
            return []
        delta = BlockDelta(assembly.start.index, assembly.start.kind, text=text)
        assembly.add(delta)
        return [delta]

    def _piece(self, kind: BlockKind, text: str) -> list[CallEvent]:
        events: list[CallEvent] = []
        if self._open is None or self._open.start.kind is not kind:
            data = dict(_REFUSAL) if kind is BlockKind.OTHER else None
            events = self._begin(BlockStart(self._next_index, kind, data=data))
        assert self._open is not None
        return [*events, *self._add(self._open, text)]

    def _tool_piece(self, entry: dict[str, Any]) -> list[CallEvent]:
        function = _dict(entry.get("function"))
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        open_call = self._open.start.tool_call if self._open is not None else None
        key: int | str
        if isinstance(entry.get("index"), int):
            key = entry["index"]
        elif self._open_key is not None and open_call is not None and entry.get("id") in (None, open_call.id):
            key = self._open_key  # no index: the open call's piece unless it names another id
        else:
            key = f"#{len(self._tools)}"
        events: list[CallEvent] = []
        if key not in self._tools:
            call = ToolCall(str(entry.get("id") or ""), str(function.get("name") or ""), "")
            start = BlockStart(self._next_index, BlockKind.TOOL_CALL, tool_call=call, data=entry)
            events = self._begin(start)
            self._tools[key], self._open_key = start.index, key
            if isinstance(key, int):
                self._wire_tool_index[start.index] = key
        elif key != self._open_key:
            # A piece of a call another one already followed: not representable; dropped, so that the
            # client never gets arguments no policy saw.
            self._dropped = True
            return []
        assert self._open is not None
        return [*events, *self._add(self._open, arguments)]

    def _end(self, done: WireEvent | None) -> list[CallEvent]:
        held, self._held = self._held or [], None
        events = [*self._held_events, *self._close()]
        self._held_events = []
        finish = self._finish
        reason = (_choice(finish) or {}).get("finish_reason")
        for wire in held:
            self._usage = _usage(_dict(wire.data).get("usage")) or self._usage
        self._trailer, self._done = tuple(held[1:] if finish is not None else held), done
        events.append(
            MessageEnd(
                stop_reason(reason),
                provider_stop_reason=reason if isinstance(reason, str) else None,
                usage=self._usage,
                data=finish,
            )
        )
        self._closed = True  # anything after the end passes as Opaque
        return _attach(events, (*held, done) if done is not None else tuple(held))

    # --- encoding -------------------------------------------------------------------------------

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
                wire = self._wire_tool_index.get(event.index)
                if wire is not None and wire != ordinals.get(event.index):
                    return False
        return True

    def _track(self, event: CallEvent) -> None:
        if isinstance(event, MessageStart):
            data = event.data or {"object": CHUNK, "created": int(time.time()), "choices": []}
            base = {key: value for key, value in data.items() if key in _BASE_KEYS}
            self._base = {**base, **({"usage": None} if "usage" in base else {})}
            self._base.update(id=event.message_id, model=event.model)
        elif isinstance(event, BlockStart):
            self._current = event
            self._current_text_sent = False
            if event.kind is BlockKind.TOOL_CALL:
                self._ordinals[event.index] = len(self._ordinals)
        elif (
            isinstance(event, BlockDelta)
            and event.kind is BlockKind.TEXT
            and event.text
            and not self._current_text_sent
        ):
            self._current_text_sent = True
            self._text_blocks_sent += 1

    def _chunk(self, delta: dict[str, Any], template: dict[str, Any] | None = None) -> WireEvent:
        choice = {**(template or _CHOICE), "delta": delta}
        payload = {**self._base, "choices": [choice]}
        payload.setdefault("object", CHUNK)
        return WireEvent(CHUNK, payload)

    def _synthesize(self, event: CallEvent) -> list[WireEvent]:
        separate = (
            isinstance(event, BlockDelta)
            and event.kind is BlockKind.TEXT
            and bool(event.text)
            and event.data is None
            and not self._current_text_sent
            and self._text_blocks_sent > 0
        )
        self._track(event)
        if separate and isinstance(event, BlockDelta):
            event = dataclasses.replace(event, text=TEXT_BLOCK_SEPARATOR + event.text)
        match event:
            case MessageStart():
                template = _choice(event.data) or _CHOICE
                delta = _dict(template.get("delta"))
                delta = {k: v for k, v in delta.items() if k not in _BLOCK_KEYS or not v}
                return [self._chunk({"role": "assistant", **delta}, template)]
            case BlockStart() if event.kind is BlockKind.TOOL_CALL:
                entry = {**_dict(event.data), "index": self._ordinals[event.index]}
                call = event.tool_call or ToolCall("", "")
                return [self._chunk({"tool_calls": [_tool_json(call, entry, "")]})]
            case BlockDelta():
                delta = self._delta(event)
                return [self._chunk(delta)] if delta is not None else []
            case MessageEnd():
                return self._end_chunks(event)
            case Opaque():
                return [event.wire]
            case _:
                return []

    def _delta(self, event: BlockDelta) -> dict[str, Any] | None:
        if event.data is not None:
            return event.data
        if event.signature is not None or not event.text:
            return None
        if event.kind is BlockKind.TEXT:
            return {"content": event.text}
        if event.kind is BlockKind.THINKING:
            return dict.fromkeys(self._reasoning_keys or _REASONING_KEYS[:1], event.text)
        if event.kind is BlockKind.TOOL_CALL:
            tool = {"index": self._ordinals.get(event.index, 0), "function": {"arguments": event.text}}
            return {"tool_calls": [tool]}
        if self._current is not None and _is_refusal(self._current.data):
            return {"refusal": event.text}
        return None

    def _end_chunks(self, event: MessageEnd) -> list[WireEvent]:
        template = _choice(event.data) or _CHOICE
        delta = {k: v for k, v in _dict(template.get("delta")).items() if k not in _BLOCK_KEYS}
        choice = {**template, "delta": delta, "finish_reason": finish_reason(event)}
        payload = _dict(self._chunk(delta, choice).data)
        if event.data is not None:  # the finish chunk as a template, e.g. for a usage it carries
            payload = {**event.data, **{k: v for k, v in payload.items() if k != "usage"}}
        out = [WireEvent(CHUNK, payload), *self._trailer]
        if event.usage is not None and event.usage != self._usage:
            out = [_with_usage(wire, event.usage) for wire in out]
        return [*out, self._done or WireEvent(DONE, None)]

    # --- whole bodies ---------------------------------------------------------------------------

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """See `CallCodec.decode_body`."""
        self._body = body
        data = _dict(body.data)
        choice = _choice(data) or {}
        message = _dict(choice.get("message"))
        blocks: list[Block] = []
        reasoning = [message[k] for k in _REASONING_KEYS if isinstance(message.get(k), str) and message[k]]
        if reasoning:
            blocks.append(Block(BlockKind.THINKING, text=reasoning[0]))
        if isinstance(message.get("content"), str) and message["content"]:
            blocks.append(Block(BlockKind.TEXT, text=message["content"]))
        if isinstance(message.get("refusal"), str) and message["refusal"]:
            blocks.append(Block(BlockKind.OTHER, text=message["refusal"], data=dict(_REFUSAL)))
        for entry in map(_dict, _list(message.get("tool_calls"))):
            function = _dict(entry.get("function"))
            arguments = function.get("arguments")
            call = ToolCall(
                str(entry.get("id") or ""),
                str(function.get("name") or ""),
                arguments if isinstance(arguments, str) and arguments else "{}",
            )
            blocks.append(Block(BlockKind.TOOL_CALL, tool_call=call, data=entry))
        start = MessageStart(str(data.get("id", "")), str(data.get("model", "")), data=data)
        events: list[CallEvent] = [start]
        for index, block in enumerate(blocks):
            events.extend(whole_block_events(index, block))
        reason = choice.get("finish_reason")
        events.append(
            MessageEnd(
                stop_reason(reason),
                provider_stop_reason=reason if isinstance(reason, str) else None,
                usage=_usage(data.get("usage")),
            )
        )
        return body_events(body, events)

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """See `CallCodec.encode_body`."""
        body = self._body
        if body is not None and is_unchanged_body(body, events):
            return body
        data = copy.deepcopy(_dict(body.data)) if body is not None else _empty_completion()
        choices = data["choices"] = _list(data.get("choices")) or _empty_completion()["choices"]
        choice = choices[0] = _dict(choices[0]) or {"index": 0, "finish_reason": None}
        message = choice["message"] = _dict(choice.get("message")) or {"role": "assistant"}
        blocks = [event.block for event in events if isinstance(event, BlockComplete)]
        texts = [b.text for b in blocks if b.kind is BlockKind.TEXT and b.text]
        # No text left: null, unless the provider sent an empty or null content.
        message["content"] = (
            TEXT_BLOCK_SEPARATOR.join(texts) if texts else ("" if message.get("content") == "" else None)
        )
        thinking = [b.text for b in blocks if b.kind is BlockKind.THINKING]
        for key in [k for k in _REASONING_KEYS if k in message] or (_REASONING_KEYS[:1] if thinking else []):
            message[key] = "".join(thinking) if thinking else None
        refusals = [b.text for b in blocks if b.kind is BlockKind.OTHER and _is_refusal(b.data)]
        if refusals or "refusal" in message:
            message["refusal"] = "".join(refusals) or None
        calls = [
            _tool_json(b.tool_call, _dict(b.data), b.tool_call.arguments)
            for b in blocks
            if b.kind is BlockKind.TOOL_CALL and b.tool_call is not None
        ]
        if calls:
            message["tool_calls"] = calls
        else:
            message.pop("tool_calls", None)
        for event in events:
            if isinstance(event, MessageStart):
                data.update(id=event.message_id, model=event.model)
            elif isinstance(event, MessageEnd):
                choice["finish_reason"] = finish_reason(event)
                if event.usage is not None and event.usage != _usage(data.get("usage")):
                    data["usage"] = _patched_usage(data.get("usage"), event.usage)
        return WireEvent(RESPONSE_BODY, data)


def _with_usage(wire: WireEvent, usage: Usage) -> WireEvent:
    data = _dict(wire.data)
    if not isinstance(data.get("usage"), dict):
        return wire
    return WireEvent(wire.type, {**data, "usage": _patched_usage(data["usage"], usage)}, wire.sse_event)


def _attach(events: list[CallEvent], wire: tuple[WireEvent, ...]) -> list[CallEvent]:
    """Give the events decoded from `wire` one shared origin.

    A leading `BlockComplete` closes a block that earlier chunks carried; it has no wire form and gets
    an empty origin of its own, so that the group of a chunk starting a tool call (which the repairer
    holds) does not also hold the completion of the block before it.
    """
    lead = [with_origin(event, Origin(())) for event in events[:1] if isinstance(event, BlockComplete)]
    origin = Origin(wire, len(events) - len(lead))
    return [*lead, *(with_origin(event, origin) for event in events[len(lead) :])]


def _empty_completion() -> dict[str, Any]:
    return {
        "id": "",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": None}],
    }
