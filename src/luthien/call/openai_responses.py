"""OpenAI Responses ↔ normalized events.

Stream mapping (decode; encode is the reverse). Event types are shown without `response.`; blocks
are numbered in the order they start.

| wire event                                         | normalized                                         |
|----------------------------------------------------|----------------------------------------------------|
| `created`                                          | `MessageStart` (data = the response object)        |
| `output_item.added` of a `message`                 | held: joins the origin of its first part's start   |
| `content_part.added` (`output_text` / `refusal`)   | `BlockStart` TEXT / OTHER, one block per part      |
| `output_text.delta`                                | `BlockDelta` text                                  |
| `output_text.done` + `content_part.done`           | `BlockComplete` (+ `output_item.done` if last part) |
| `output_item.added` of a `reasoning` item          | `BlockStart` THINKING (data = the item)            |
| `reasoning_summary_text.delta`/`reasoning_text.delta` | `BlockDelta` text (all parts concatenated)      |
| `output_item.done` of a `reasoning` item           | signature `BlockDelta` (`encrypted_content`) + end |
| `output_item.added` of a `function_call`           | `BlockStart` TOOL_CALL (`call_id`, `name`)         |
| `function_call_arguments.delta`                    | `BlockDelta` arguments fragment                    |
| `function_call_arguments.done` + `output_item.done` | `BlockComplete`                                   |
| `output_item.added` / `.done` of other items       | `BlockStart` / `BlockComplete` OTHER (data = item) |
| other events of an open block's item or part       | `BlockDelta` with the event as `data`              |
| `completed` / `incomplete` / `failed`              | `MessageEnd` (stop reason, usage; data = event)    |
| `in_progress`, `error`, unknown types, comments    | `Opaque`                                           |
| content events of an item or part that is not open | dropped (a client would add them unread)           |

Stop reasons: a `function_call` in the output → TOOL_USE; incomplete for `max_output_tokens` →
MAX_TOKENS; any other incomplete, or failed → OTHER (the reason in `provider_stop_reason`); else
END_TURN. A message item without content parts is one OTHER block (data = the item).

Encoding keeps the client's view consistent. The encoder numbers `sequence_number` itself and gives
events the `output_index`, `item_id`, `content_index` and `summary_index` of the stream it sends;
once anything of an item changed, its `*.done` events and its entry in the terminal response's
`output` are rebuilt from what was streamed. An upstream event goes out as its raw bytes exactly when
none of this changes it. A synthesized part continues (or reopens) the upstream message its `data`
came from, else opens a message of its own; a synthesized item keeps the id in its `data` unless that
id was already sent, else gets a fresh one (`msg_...`, `rs_...`, `fc_...`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from luthien.call import openai_responses_items as items
from luthien.call.assembly import BlockAssembly
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
    ToolCall,
    with_origin,
)
from luthien.call.openai_responses_items import as_dict
from luthien.call.openai_responses_sent import SentItem, diverges, final_output
from luthien.pipeline.events import RESPONSE_BODY, WireEvent

_TEXT_DELTAS = {
    BlockKind.TEXT: frozenset({items.TEXT_DELTA}),
    BlockKind.THINKING: frozenset({items.SUMMARY_DELTA, items.REASONING_DELTA}),
    BlockKind.TOOL_CALL: frozenset({items.ARGUMENTS_DELTA}),
}


@dataclass(slots=True)
class _Pending:
    """A block's closing events, held until it is known whether its item ends with it."""

    block: int
    output_index: int
    wire: list[WireEvent]
    part_done: bool


class OpenAIResponsesCodec:
    """Decodes and encodes one OpenAI Responses call (see the module docstring for the mapping)."""

    def __init__(self) -> None:
        self._next_block = 0
        self._assemblies: dict[int, BlockAssembly] = {}
        self._item_blocks: dict[int, int] = {}
        self._part_blocks: dict[tuple[int, int], int] = {}
        self._held: dict[int, WireEvent] = {}
        self._pending: _Pending | None = None
        self._templates: dict[int, dict[str, Any]] = {}
        self._sources: dict[int, tuple[int, dict[str, Any]]] = {}
        self._body: WireEvent | None = None
        self._parents: dict[int, dict[str, Any]] = {}
        self._grouping = OriginGrouping()
        self._out: list[WireEvent] = []
        self._seq: int | None = None
        self._sent: list[SentItem] = []
        self._by_upstream: dict[int, SentItem] = {}
        self._current: SentItem | None = None
        self._response: dict[str, Any] = {}

    # --- decoding -------------------------------------------------------------------------------

    def decode(self, event: WireEvent) -> list[CallEvent]:
        """See `CallCodec.decode`."""
        data = as_dict(event.data)
        oi = data.get("output_index")
        out: list[CallEvent] = []
        pending = self._pending
        if pending is not None and not (
            oi == pending.output_index and (event.type == items.ITEM_DONE or not pending.part_done)
        ):
            out.extend(self._complete(pending))
        if self._held and not (oi in self._held and event.type in (items.PART_ADDED, items.ITEM_DONE)):
            out.extend(with_origin(Opaque(wire), Origin((wire,))) for wire in self._held.values())
            self._held.clear()
        return [*out, *self._decode(event, data)]

    def _decode(self, event: WireEvent, data: dict[str, Any]) -> list[CallEvent]:
        origin = Origin((event,))
        oi, ci = data.get("output_index"), data.get("content_index")
        if event.type == items.CREATED:
            response = as_dict(data.get("response"))
            start = MessageStart(str(response.get("id", "")), str(response.get("model", "")), data=response)
            return [with_origin(start, origin)]
        if event.type in items.TERMINAL:
            saw_call = any(item.get("type") == "function_call" for item in self._templates.values())
            end = items.message_end(event.type, as_dict(data.get("response")), saw_call, data)
            return [with_origin(end, origin)]
        if not isinstance(oi, int):
            return [with_origin(Opaque(event), origin)]
        if self._pending is not None:
            return self._join_pending(event)
        if event.type == items.ITEM_ADDED:
            return self._item_added(event, oi, as_dict(data.get("item")))
        if event.type == items.ITEM_DONE:
            return self._item_done(event, oi, as_dict(data.get("item")))
        if event.type == items.PART_ADDED and isinstance(ci, int) and oi not in self._item_blocks:
            if oi in self._held:
                return [with_origin(self._part_added(oi, ci, data), Origin((self._held.pop(oi), event)))]
            if self._is_message(oi):
                return [with_origin(self._part_added(oi, ci, data), origin)]
        if oi in self._item_blocks:
            block = self._item_blocks[oi]
            closing = event.type == items.ARGUMENTS_DONE
        elif isinstance(ci, int) and (oi, ci) in self._part_blocks:
            block = self._part_blocks[(oi, ci)]
            closing = event.type in (items.TEXT_DONE, items.PART_DONE)
        elif event.type in items.CONTENT_EVENTS:  # of an item not open: a client would add it unread
            return []
        else:
            return [with_origin(Opaque(event), origin)]
        kind = self._assemblies[block].start.kind
        if closing and (kind is BlockKind.TOOL_CALL or isinstance(ci, int)):
            self._item_blocks.pop(oi, None)
            if isinstance(ci, int):
                self._part_blocks.pop((oi, ci), None)
            self._pending = _Pending(block, oi, [event], event.type != items.TEXT_DONE)
            return []
        if event.type in _TEXT_DELTAS.get(kind, ()):
            delta = BlockDelta(block, kind, text=str(data.get("delta", "")))
        else:
            delta = BlockDelta(block, kind, data=data)
        self._assemblies[block].add(delta)
        return [with_origin(delta, origin)]

    def _is_message(self, output_index: int) -> bool:
        return self._templates.get(output_index, {}).get("type") == "message"

    def _new_block(self, start: BlockStart) -> BlockStart:
        self._assemblies[start.index] = BlockAssembly(start)
        self._next_block += 1
        return start

    def _item_added(self, event: WireEvent, oi: int, item: dict[str, Any]) -> list[CallEvent]:
        self._templates[oi] = item
        self._sources[id(item)] = (oi, item)
        if item.get("type") == "message":
            self._held[oi] = event
            return []
        kind = items.ITEM_KINDS.get(str(item.get("type")), BlockKind.OTHER)
        call = None
        if kind is BlockKind.TOOL_CALL:
            call = ToolCall(str(item.get("call_id", "")), str(item.get("name", "")), "")
        start = self._new_block(BlockStart(self._next_block, kind, tool_call=call, data=item))
        self._item_blocks[oi] = start.index
        return [with_origin(start, Origin((event,)))]

    def _part_added(self, oi: int, ci: int, data: dict[str, Any]) -> BlockStart:
        part = as_dict(data.get("part"))
        kind = BlockKind.TEXT if part.get("type") == "output_text" else BlockKind.OTHER
        start = self._new_block(BlockStart(self._next_block, kind, data=part))
        self._part_blocks[(oi, ci)] = start.index
        self._sources[id(part)] = (oi, part)
        return start

    def _item_done(self, event: WireEvent, oi: int, item: dict[str, Any]) -> list[CallEvent]:
        held = self._held.pop(oi, None)
        if held is not None:  # a message without content parts
            start = self._new_block(BlockStart(self._next_block, BlockKind.OTHER, data=self._templates[oi]))
            self._assemblies.pop(start.index)
            complete = BlockComplete(start.index, Block(BlockKind.OTHER, data=item))
            return [with_origin(start, Origin((held,))), with_origin(complete, Origin((event,)))]
        block = self._item_blocks.pop(oi, None)
        if block is None:
            return [with_origin(Opaque(event), Origin((event,)))]
        return self._completion(block, [event])

    def _join_pending(self, event: WireEvent) -> list[CallEvent]:
        pending = self._pending
        assert pending is not None
        pending.wire.append(event)
        pending.part_done = pending.part_done or event.type == items.PART_DONE
        if event.type != items.ITEM_DONE:
            return []
        return self._complete(pending)

    def _complete(self, pending: _Pending) -> list[CallEvent]:
        self._pending = None
        return self._completion(pending.block, pending.wire)

    def _completion(self, block: int, wire: list[WireEvent]) -> list[CallEvent]:
        """The events closing `block`; several share one origin (a filled-in delta, a signature)."""
        assembly = self._assemblies.pop(block)
        kind = assembly.start.kind
        final: dict[str, Any] = {}
        for event in wire:
            data = as_dict(event.data)
            final.update({k: v for k, v in data.items() if k in ("text", "arguments", "part", "item")})
        item = as_dict(final.get("item"))
        deltas: list[BlockDelta] = []
        text = {
            BlockKind.TEXT: final.get("text"),
            BlockKind.THINKING: items.reasoning_text(item),
            BlockKind.TOOL_CALL: final.get("arguments", item.get("arguments")),
        }.get(kind)
        if isinstance(text, str) and text and not assembly.text:
            deltas.append(BlockDelta(block, kind, text=text))
        signature = item.get("encrypted_content") if kind is BlockKind.THINKING else None
        if isinstance(signature, str) and signature:
            deltas.append(BlockDelta(block, kind, signature=signature))
        for delta in deltas:
            assembly.add(delta)
        if kind is BlockKind.OTHER:
            part = items.is_part(kind, as_dict(assembly.start.data))
            complete = BlockComplete(block, Block(kind, data=as_dict(final.get("part")) if part else item))
        else:
            complete = BlockComplete(block, assembly.block())
        events: list[CallEvent] = [*deltas, complete]
        origin = Origin(tuple(wire), parts=len(events))
        return [with_origin(event, origin) for event in events]

    def finish_decode(self) -> list[CallEvent]:
        """A block whose closing events came but not its item's end completes; held items pass."""
        out = self._complete(self._pending) if self._pending is not None else []
        out.extend(with_origin(Opaque(wire), Origin((wire,))) for wire in self._held.values())
        self._held.clear()
        return out

    # --- encoding -------------------------------------------------------------------------------

    def encode(self, event: CallEvent) -> list[WireEvent]:
        """See `CallCodec.encode`."""
        synthesize, origin, events = self._grouping.offer(event)
        for item in synthesize:
            self._synthesize(item)
        if origin is not None:
            in_block = isinstance(events[0], BlockStart | BlockDelta | BlockComplete)
            for wire in origin.wire:
                self._forward(wire, in_block)
        out, self._out = self._out, []
        return out

    def finish_encode(self) -> list[WireEvent]:
        """Re-serialize any incomplete group."""
        for item in self._grouping.flush():
            self._synthesize(item)
        out, self._out = self._out, []
        return out

    def _emit(self, *payloads: dict[str, Any], wire: WireEvent | None = None) -> None:
        """Number, track and queue events; `wire` is the upstream event a payload may be sent as."""
        for payload in payloads:
            if self._seq is None:
                first = payload.get("sequence_number") if wire is not None else None
                self._seq = first if isinstance(first, int) else 0
            if wire is None or wire.raw is None or "sequence_number" in payload:
                payload["sequence_number"] = self._seq
            self._seq += 1
            index = payload.get("output_index")
            if payload.get("type") == items.CREATED:
                self._response = as_dict(payload.get("response"))
            elif isinstance(index, int) and 0 <= index < len(self._sent):
                self._sent[index].track(payload)
                if self._current is not None and self._current.done:
                    self._current = None
            if wire is not None and wire.raw is not None and payload == wire.data:
                self._out.append(wire)
            else:
                event_type = str(payload.get("type", ""))
                self._out.append(WireEvent(event_type, payload, wire.sse_event if wire else event_type))

    def _forward(self, wire: WireEvent, in_block: bool) -> None:
        """Send an upstream event, renumbered to the stream sent (its raw bytes when unchanged)."""
        payload = dict(as_dict(wire.data))
        oi = payload.get("output_index")
        if not payload:
            self._out.append(wire)
            return
        if wire.type == items.ITEM_ADDED:
            self._close_current()
            item = self._open(as_dict(payload.get("item")), oi if isinstance(oi, int) else None)
            payload.update(output_index=item.index, item=copy.deepcopy(item.item))
        elif wire.type in items.TERMINAL:
            self._close_current()
            response = as_dict(payload.get("response"))
            if self._changed(response.get("output")):
                payload["response"] = {**response, "output": final_output(self._sent, response.get("output"))}
        elif isinstance(oi, int):
            item = self._item_for(payload, oi, in_block)
            if item is not None:
                item.patch(payload)
            elif oi in self._templates:  # an event of an item the policy dropped
                return
        self._emit(payload, wire=wire)

    def _item_for(self, payload: dict[str, Any], oi: int, in_block: bool) -> SentItem | None:
        """The item sent that an upstream event belongs to (opened here when its start was dropped)."""
        if not in_block:
            return self._by_upstream.get(oi)
        current = self._current
        if current is not None and (current.upstream == oi or payload.get("type") != items.PART_ADDED):
            return current
        return self._reopen(oi)

    def _reopen(self, oi: int) -> SentItem:
        """Open a message item for a part of upstream item `oi` whose own start did not come."""
        self._close_current()
        template = self._templates.get(oi, {"type": "message", "role": "assistant"})
        item = self._open({**template, "status": "in_progress", "content": []}, oi)
        item.modified = True
        self._emit(item.added())
        return item

    def _changed(self, output: Any) -> bool:
        """Whether the items sent differ from upstream's final `output` (which is then rebuilt)."""
        modified = any(item.modified for item in self._sent) or diverges(self._sent, output)
        return modified or [item.upstream for item in self._sent] != sorted(self._templates)

    def _open(self, item: dict[str, Any], upstream: int | None) -> SentItem:
        """Register a new output item (its id made unique); the caller sends its `added` event."""
        item = copy.deepcopy(item)
        sent = SentItem(len(self._sent), item, upstream)
        if not sent.id or any(other.id == sent.id for other in self._sent):
            item["id"] = items.new_id(item.get("type"))
            sent.modified = True
        self._sent.append(sent)
        if upstream is not None:
            self._by_upstream[upstream] = sent
        self._current = sent
        return sent

    def _close_current(self) -> None:
        """End the open item (a message whose later parts were dropped, or a synthesized item)."""
        item = self._current
        if item is not None and not item.done:
            item.modified = True
            self._emit(*item.part_closing())
            self._emit(item.finished())

    def _synthesize(self, event: CallEvent) -> None:
        match event:
            case MessageStart():
                response = copy.deepcopy(event.data) if event.data else items.minimal_response()
                response.update(id=event.message_id, model=event.model)
                self._emit({"type": items.CREATED, "response": response})
            case BlockStart():
                self._block_start(event)
            case BlockDelta():
                self._delta(event)
            case BlockComplete():
                self._block_complete(event.block)
            case MessageEnd():
                self._close_current()
                template = as_dict(event.data) or {"response": self._response}
                event_type = items.terminal_type(event, template.get("type"))
                response = as_dict(template.get("response")) or self._response
                changed = self._changed(response.get("output")) or not event.data
                output = final_output(self._sent, response.get("output")) if changed else None
                response = items.finished_response(response, event_type, event, output)
                self._emit({**template, "type": event_type, "response": response})
            case Opaque():
                self._forward(event.wire, False)

    def _block_start(self, event: BlockStart) -> None:
        """Open a block's item (and part); a part of an upstream message continues or reopens it.

        A renumbered block reaches the encoder without origin; its `data` is still the decoder's
        object, which tells the upstream item it came from.
        """
        data = as_dict(event.data)
        source = self._sources.get(id(event.data))
        upstream = source[0] if source is not None and source[1] is event.data else None
        if items.is_part(event.kind, data):
            item = self._current
            if upstream is None or item is None or item.upstream != upstream or item.done:
                if upstream is not None:
                    item = self._reopen(upstream)
                else:
                    self._close_current()
                    item = self._open(items.new_item(event.kind, data, None), None)
                    self._emit(item.added())
            part = items.text_part(data) if event.kind is BlockKind.TEXT else data
            self._emit(item.part_added("content", part))
        else:
            self._close_current()
            item = self._open(items.new_item(event.kind, data, event.tool_call), upstream)
            self._emit(item.added())
        item.modified = True

    def _delta(self, event: BlockDelta) -> None:
        item = self._current
        if item is None:
            return
        item.modified = True
        if event.data is not None:
            self._forward(WireEvent(str(event.data.get("type", "")), event.data), True)
        elif event.signature is not None:
            item.signature = (item.signature or "") + event.signature
        elif event.kind is BlockKind.TOOL_CALL:
            self._emit({"type": items.ARGUMENTS_DELTA, **item.where(), "delta": event.text})
        elif event.kind in (BlockKind.TEXT, BlockKind.THINKING):
            if item.open_part is None:
                kind = "content" if event.kind is BlockKind.TEXT else "summary"
                empty = items.text_part({}) if kind == "content" else {"type": "summary_text", "text": ""}
                self._emit(item.part_added(kind, empty))
            kind, index = item.open_part or ("content", 0)
            where = item.where(**{f"{kind}_index": index})
            if kind == "summary":
                self._emit({"type": items.SUMMARY_DELTA, **where, "delta": event.text})
            elif event.kind is BlockKind.THINKING:
                self._emit({"type": items.REASONING_DELTA, **where, "delta": event.text})
            else:
                self._emit({"type": items.TEXT_DELTA, **where, "delta": event.text, "logprobs": []})

    def _block_complete(self, block: Block) -> None:
        item = self._current
        if item is None:
            return
        item.modified = True
        data = as_dict(block.data)
        if items.is_part(block.kind, data):
            self._emit(*item.part_closing(data if block.kind is BlockKind.OTHER and data else None))
            return
        self._emit(*item.part_closing())
        if block.kind is BlockKind.THINKING and block.signature is not None:
            item.signature = block.signature
        elif block.kind is BlockKind.TOOL_CALL and block.tool_call is not None:
            call = block.tool_call
            item.item.update(call_id=call.id, name=call.name)
            self._emit({"type": items.ARGUMENTS_DONE, **item.where(), "arguments": call.arguments})
        elif block.kind is BlockKind.OTHER and data:
            item.item = {**data, "id": item.id}
        self._emit(item.finished())

    # --- whole bodies ---------------------------------------------------------------------------

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """See `CallCodec.decode_body`."""
        self._body = body
        response = as_dict(body.data)
        events: list[CallEvent] = [
            MessageStart(str(response.get("id", "")), str(response.get("model", "")), data=response),
            *items.body_events(items.as_list(response.get("output")), self._parents),
            items.message_end(str(response.get("status")), response, False),
        ]
        return body_events(body, events)

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """See `CallCodec.encode_body`."""
        body = self._body
        if body is not None and is_unchanged_body(body, events):
            return body
        response = copy.deepcopy(as_dict(body.data)) if body is not None else items.minimal_response()
        response["output"] = items.body_output(events, self._parents)
        for event in events:
            if isinstance(event, MessageStart):
                response.update(id=event.message_id, model=event.model)
            elif isinstance(event, MessageEnd):
                original = f"response.{response.get('status')}"
                event_type = items.terminal_type(event, original)
                response = items.finished_response(response, event_type, event, response["output"])
        return WireEvent(RESPONSE_BODY, response)
