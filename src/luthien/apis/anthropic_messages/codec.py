"""Anthropic Messages ↔ normalized events.

Stream mapping (decode; encode is the reverse):

- `message_start` → `MessageStart`
- `content_block_start` → `BlockStart`: `tool_use` is TOOL_CALL, `text` TEXT, `thinking` THINKING,
  anything else (server tools, redacted thinking...) OTHER with the block in `data`
- `content_block_delta` → `BlockDelta`: text, thinking, signature, `input_json_delta`; other delta
  types (citations) kept whole in `data`
- `content_block_stop` → `BlockComplete` with the assembled block
- `message_delta` + `message_stop` → `MessageEnd` (the delta is held until the stop arrives)
- `ping`, `error`, unknown types → `Opaque`
- `content_block_delta` / `content_block_stop` of a block that is not open → dropped (a client would
  apply it to a block the policy already saw whole)

`AnthropicDecoder` and `AnthropicEncoder` share no state. A stream needs no hints: every event maps
to whole wire events (`origin`), and the payloads a re-serialized event starts from travel in its
`data`. A whole body's `MessageStart` and `MessageEnd` carry `AnthropicHints` naming the body, which
the encoder keeps unchanged or rebuilds from as a template.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import orjson

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.call.assembly import BlockAssembly
from luthien.call.codec import CodecPair, OriginGrouping, body_events, is_unchanged_body
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
    WireHints,
    hints_of,
    with_origin,
)
from luthien.wire.events import RESPONSE_BODY, WireEvent

_KINDS = {"text": BlockKind.TEXT, "thinking": BlockKind.THINKING, "tool_use": BlockKind.TOOL_CALL}
_DELTA_KINDS = {
    "text_delta": ("text", BlockKind.TEXT),
    "thinking_delta": ("thinking", BlockKind.THINKING),
    "input_json_delta": ("partial_json", BlockKind.TOOL_CALL),
}


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class AnthropicHints(WireHints):
    """What the Anthropic decoder notes for the Anthropic encoder.

    Attributes:
        body: on a whole body's `MessageStart` and `MessageEnd`, the body they were decoded from.
    """

    api: ClassVar[str] = ANTHROPIC_MESSAGES.name
    body: WireEvent | None = None


def stop_reason(value: Any) -> StopReason:
    """Normalize an Anthropic `stop_reason`."""
    try:
        return StopReason(value)
    except ValueError:
        return StopReason.OTHER


def usage_of(value: Any) -> Usage | None:
    """The normalized usage of an Anthropic `usage` object, if it has one."""
    usage = _dict(value)
    if not usage:
        return None
    return Usage(
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cache_read_input_tokens=usage.get("cache_read_input_tokens"),
        cache_creation_input_tokens=usage.get("cache_creation_input_tokens"),
    )


def _wire(payload: dict[str, Any]) -> WireEvent:
    event_type = str(payload["type"])
    return WireEvent(event_type, payload, event_type)


def block_start_payload(index: int, kind: BlockKind, tool_call: ToolCall | None, data: Any) -> dict[str, Any]:
    """The `content_block` object that opens a block."""
    block: dict[str, Any]
    if kind is BlockKind.TEXT:
        block = {**_dict(data), "type": "text", "text": ""}
    elif kind is BlockKind.THINKING:
        block = {"type": "thinking", "thinking": "", "signature": ""}
    elif kind is BlockKind.TOOL_CALL:
        call = tool_call or ToolCall(id="", name="")
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
    else:
        block = _dict(data)
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_json(block: Block) -> dict[str, Any]:
    """A whole content block as it appears in a non-streaming message."""
    template = _dict(block.data)
    if block.kind is BlockKind.TEXT:
        return {**template, "type": "text", "text": block.text}
    if block.kind is BlockKind.THINKING:
        return {"type": "thinking", "thinking": block.text, "signature": block.signature or ""}
    if block.kind is BlockKind.TOOL_CALL:
        call = block.tool_call or ToolCall(id="", name="")
        arguments = call.parsed_arguments
        return {
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": arguments if arguments is not None else template.get("input", {}),
        }
    return template


def provider_stop_reason(event: MessageEnd) -> str:
    """The Anthropic `stop_reason` for a normalized end."""
    if event.stop_reason is StopReason.OTHER:
        return event.provider_stop_reason or StopReason.END_TURN.value
    return event.stop_reason.value


class AnthropicDecoder:
    """Decodes one Anthropic Messages call (see the module docstring for the mapping)."""

    def __init__(self) -> None:
        self._assemblies: dict[int, BlockAssembly] = {}
        self._pending_delta: WireEvent | None = None

    def decode(self, event: WireEvent) -> list[CallEvent]:
        """See `CallCodec.decode`."""
        data = _dict(event.data)
        origin = Origin((event,))
        if event.type == "message_start":
            message = _dict(data.get("message"))
            start = MessageStart(str(message.get("id", "")), str(message.get("model", "")), data=message)
            return [with_origin(start, origin)]
        if event.type == "content_block_start":
            return [with_origin(self._block_start(data), origin)]
        if event.type == "content_block_delta" and data.get("index") in self._assemblies:
            return [with_origin(self._block_delta(data), origin)]
        if event.type == "content_block_stop" and data.get("index") in self._assemblies:
            index = cast(int, data["index"])
            assembly = self._assemblies.pop(index)
            return [with_origin(BlockComplete(index, assembly.block()), origin)]
        if event.type in ("content_block_delta", "content_block_stop"):
            # Of a block that is not open (never started, or already stopped): a client would still
            # apply it (e.g. extend a tool call's input after it was judged), so it is never sent.
            return []
        if event.type == "message_delta":
            self._pending_delta = event
            return []
        if event.type == "message_stop":
            return [self._message_end(event)]
        return [with_origin(Opaque(event), origin)]

    def _block_start(self, data: dict[str, Any]) -> BlockStart:
        index = data.get("index")
        index = index if isinstance(index, int) else len(self._assemblies)
        block = _dict(data.get("content_block"))
        kind = _KINDS.get(str(block.get("type")), BlockKind.OTHER)
        tool_call = None
        if kind is BlockKind.TOOL_CALL:
            tool_call = ToolCall(str(block.get("id", "")), str(block.get("name", "")), "")
        start = BlockStart(index, kind, tool_call=tool_call, data=block)
        self._assemblies[index] = BlockAssembly(start)
        return start

    def _block_delta(self, data: dict[str, Any]) -> BlockDelta:
        index = cast(int, data["index"])
        assembly = self._assemblies[index]
        delta = _dict(data.get("delta"))
        delta_type = str(delta.get("type"))
        if delta_type == "signature_delta":
            event = BlockDelta(index, assembly.start.kind, signature=str(delta.get("signature", "")))
        elif delta_type in _DELTA_KINDS:
            field, _ = _DELTA_KINDS[delta_type]
            event = BlockDelta(index, assembly.start.kind, text=str(delta.get(field, "")))
        else:
            event = BlockDelta(index, assembly.start.kind, data=delta)
        assembly.add(event)
        return event

    def _message_end(self, stop: WireEvent) -> MessageEnd:
        pending, self._pending_delta = self._pending_delta, None
        if pending is None:
            return with_origin(MessageEnd(StopReason.END_TURN), Origin((stop,)))
        data = _dict(pending.data)
        reason = _dict(data.get("delta")).get("stop_reason")
        end = MessageEnd(
            stop_reason(reason),
            provider_stop_reason=reason if isinstance(reason, str) else None,
            usage=usage_of(data.get("usage")),
            data=data,
        )
        return with_origin(end, Origin((pending, stop)))

    def finish_decode(self) -> list[CallEvent]:
        """Nothing is complete without `message_stop`; a held `message_delta` is dropped."""
        return []

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """See `CallDecoder.decode_body`."""
        message = _dict(body.data)
        message_id, model = str(message.get("id", "")), str(message.get("model", ""))
        hints = AnthropicHints(body)
        events: list[CallEvent] = [MessageStart(message_id, model, data=message, hints=hints)]
        for index, raw_block in enumerate(message.get("content") or []):
            events.extend(_whole_block_events(index, _dict(raw_block)))
        reason = message.get("stop_reason")
        events.append(
            MessageEnd(
                stop_reason(reason),
                provider_stop_reason=reason if isinstance(reason, str) else None,
                usage=usage_of(message.get("usage")),
                hints=hints,
            )
        )
        return body_events(body, events)


class AnthropicEncoder:
    """Encodes one call's normalized events as Anthropic Messages, from the events alone."""

    def __init__(self) -> None:
        self._grouping = OriginGrouping()

    def encode(self, event: CallEvent) -> list[WireEvent]:
        """See `CallCodec.encode`. Every normalized event here maps to whole wire events."""
        synthesize, origin, _ = self._grouping.offer(event)
        out = [wire for item in synthesize for wire in self._synthesize(item)]
        if origin is not None:
            out.extend(origin.wire)
        return out

    def finish_encode(self) -> list[WireEvent]:
        """Re-serialize any incomplete group."""
        return [wire for item in self._grouping.flush() for wire in self._synthesize(item)]

    def _synthesize(self, event: CallEvent) -> list[WireEvent]:
        match event:
            case MessageStart():
                message = copy.deepcopy(event.data) if event.data else _empty_message()
                message.update(id=event.message_id, model=event.model)
                return [_wire({"type": "message_start", "message": message})]
            case BlockStart():
                return [_wire(block_start_payload(event.index, event.kind, event.tool_call, event.data))]
            case BlockDelta():
                return [_wire({"type": "content_block_delta", "index": event.index, "delta": _delta(event)})]
            case BlockComplete():
                return [_wire({"type": "content_block_stop", "index": event.index})]
            case MessageEnd():
                payload: dict[str, Any] = (
                    copy.deepcopy(event.data) if event.data else {"type": "message_delta", "delta": {}}
                )
                delta: dict[str, Any] = payload.setdefault("delta", {})
                delta["stop_reason"] = provider_stop_reason(event)
                delta.setdefault("stop_sequence", None)
                if "usage" not in payload:
                    usage = event.usage or Usage()
                    payload["usage"] = {"output_tokens": usage.output_tokens or 0}
                return [_wire(payload), _wire({"type": "message_stop"})]
            case Opaque():
                return [event.wire]

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """See `CallEncoder.encode_body`."""
        body = _hinted_body(events)
        if body is not None and is_unchanged_body(body, events):
            return body
        message = copy.deepcopy(_dict(body.data)) if body is not None else _empty_message()
        message["content"] = [block_json(e.block) for e in events if isinstance(e, BlockComplete)]
        for event in events:
            if isinstance(event, MessageStart):
                message.update(id=event.message_id, model=event.model)
            elif isinstance(event, MessageEnd):
                message["stop_reason"] = provider_stop_reason(event)
        return WireEvent(RESPONSE_BODY, message)


class AnthropicCodec(CodecPair):
    """One Anthropic Messages call's decoder and encoder, which share no state."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(AnthropicDecoder(), AnthropicEncoder())


def _hinted_body(events: list[CallEvent]) -> WireEvent | None:
    """The body the events were decoded from, as their hints name it."""
    for event in events:
        hints = hints_of(event, AnthropicHints)
        if hints is not None and hints.body is not None:
            return hints.body
    return None


def _delta(event: BlockDelta) -> dict[str, Any]:
    if event.data is not None:
        return event.data
    if event.signature is not None:
        return {"type": "signature_delta", "signature": event.signature}
    if event.kind is BlockKind.THINKING:
        return {"type": "thinking_delta", "thinking": event.text}
    if event.kind is BlockKind.TOOL_CALL:
        return {"type": "input_json_delta", "partial_json": event.text}
    return {"type": "text_delta", "text": event.text}


def _whole_block_events(index: int, block: dict[str, Any]) -> list[CallEvent]:
    kind = _KINDS.get(str(block.get("type")), BlockKind.OTHER)
    if kind is BlockKind.TOOL_CALL:
        arguments = orjson.dumps(block.get("input", {})).decode("utf-8")
        call = ToolCall(str(block.get("id", "")), str(block.get("name", "")), arguments)
        start = BlockStart(index, kind, tool_call=ToolCall(call.id, call.name, ""), data=block)
        return [
            start,
            BlockDelta(index, kind, text=arguments),
            BlockComplete(index, Block(kind, tool_call=call, data=block)),
        ]
    if kind is BlockKind.OTHER:
        return [BlockStart(index, kind, data=block), BlockComplete(index, Block(kind, data=block))]
    text = str(block.get("thinking" if kind is BlockKind.THINKING else "text", ""))
    events: list[CallEvent] = [BlockStart(index, kind, data=block)]
    if text:
        events.append(BlockDelta(index, kind, text=text))
    signature = block.get("signature") if kind is BlockKind.THINKING else None
    if isinstance(signature, str):
        events.append(BlockDelta(index, kind, signature=signature))
    events.append(
        BlockComplete(
            index,
            Block(kind, text=text, signature=signature if isinstance(signature, str) else None, data=block),
        )
    )
    return events


def _empty_message() -> dict[str, Any]:
    return {
        "id": "",
        "type": "message",
        "role": "assistant",
        "model": "",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
