"""Encoding normalized events back into an OpenAI Responses stream (the mapping: `openai_responses`).

The encoder numbers `sequence_number` itself and gives events the `output_index`, `item_id`,
`content_index` and `summary_index` of the stream it sends (`openai_responses_sent.SentItem` follows
each item sent). An upstream event goes out as its raw bytes exactly when none of this changes it. A
tool call is written in its own item type (`openai_responses_tools.item_with`): a `function_call`
streams its arguments; a custom call streams its input once whole (unless the upstream's input deltas
were sent); any other call is its item, filled in at `output_item.done`.

The encoder shares nothing with the decoder: which upstream item a block came from, and which items
the upstream announced, it learns from `ResponsesHints` on the events. Events without them (built by
a policy, or translated from another API) open items of their own.
"""

from __future__ import annotations

import copy
from typing import Any

from luthien.apis.openai_responses import items, tools
from luthien.apis.openai_responses.items import ResponsesHints, as_dict
from luthien.apis.openai_responses.sent import SentItem, diverges, final_output
from luthien.call.codec import OriginGrouping
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
    ToolCall,
    hints_of,
)
from luthien.wire.events import WireEvent


class ResponsesStreamEncoder:
    """Encodes one call's normalized events as a Responses stream."""

    def __init__(self) -> None:
        self._grouping = OriginGrouping()
        self._out: list[WireEvent] = []
        self._seq: int | None = None
        self._sent: list[SentItem] = []
        self._by_upstream: dict[int, SentItem] = {}
        self._current: SentItem | None = None
        self._response: dict[str, Any] = {}

    def encode(self, event: CallEvent) -> list[WireEvent]:
        """See `CallCodec.encode`."""
        synthesize, origin, events = self._grouping.offer(event)
        for item in synthesize:
            self._synthesize(item)
        if origin is not None:
            in_block = isinstance(events[0], BlockStart | BlockDelta | BlockComplete)
            hints = _first_hints(events)
            for wire in origin.wire:
                self._forward(wire, in_block, hints)
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

    def _forward(self, wire: WireEvent, in_block: bool, hints: ResponsesHints | None) -> None:
        """Send an upstream event, renumbered to the stream sent (its raw bytes when unchanged).

        Args:
            wire: the upstream event.
            in_block: whether it belongs to the block being sent.
            hints: the hints of the events decoded from it, if of this API.
        """
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
            if self._changed(response.get("output"), hints):
                payload["response"] = {**response, "output": final_output(self._sent, response.get("output"))}
        elif isinstance(oi, int):
            item = self._item_for(payload, oi, in_block, hints)
            if item is not None:
                item.patch(payload)
            elif hints is not None and hints.output_index == oi:  # of an item the policy dropped
                return
        self._emit(payload, wire=wire)

    def _item_for(
        self, payload: dict[str, Any], oi: int, in_block: bool, hints: ResponsesHints | None
    ) -> SentItem | None:
        """The item sent that an upstream event belongs to (opened here when its start was dropped)."""
        if not in_block:
            return self._by_upstream.get(oi)
        current = self._current
        if current is not None and (current.upstream == oi or payload.get("type") != items.PART_ADDED):
            return current
        return self._reopen(oi, hints)

    def _reopen(self, oi: int, hints: ResponsesHints | None) -> SentItem:
        """Open a message item for a part of upstream item `oi` whose own start did not come.

        The item starts as the upstream announced it, when the hints say so.
        """
        self._close_current()
        template = hints.item if hints is not None and hints.output_index == oi else None
        template = template or {"type": "message", "role": "assistant"}
        item = self._open({**template, "status": "in_progress", "content": []}, oi)
        item.modified = True
        self._emit(item.added())
        return item

    def _changed(self, output: Any, hints: ResponsesHints | None) -> bool:
        """Whether the items sent differ from upstream's final `output` (which is then rebuilt).

        The hints of the end list the items the upstream announced; without them, none was.
        """
        modified = any(item.modified for item in self._sent) or diverges(self._sent, output)
        announced = list(hints.announced) if hints is not None else []
        return modified or [item.upstream for item in self._sent] != announced

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
                changed = self._changed(response.get("output"), hints_of(event, ResponsesHints))
                changed = changed or not event.data
                output = final_output(self._sent, response.get("output")) if changed else None
                response = items.finished_response(response, event_type, event, output)
                self._emit({**template, "type": event_type, "response": response})
            case Opaque():
                self._forward(event.wire, False, hints_of(event, ResponsesHints))

    def _block_start(self, event: BlockStart) -> None:
        """Open a block's item (and part); a part of an upstream message continues or reopens it.

        A renumbered block reaches the encoder without origin; its hints (kept while its `data` is
        still the decoded object) tell the upstream item it came from.
        """
        data = as_dict(event.data)
        hints = hints_of(event, ResponsesHints)
        decoded = hints is not None and event.data is not None and hints.source is event.data
        upstream = hints.output_index if hints is not None and decoded else None
        if items.is_part(event.kind, data):
            item = self._current
            if upstream is None or item is None or item.upstream != upstream or item.done:
                if upstream is not None:
                    item = self._reopen(upstream, hints)
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
            wire = WireEvent(str(event.data.get("type", "")), event.data)
            self._forward(wire, True, hints_of(event, ResponsesHints))
        elif event.signature is not None:
            item.signature = (item.signature or "") + event.signature
        elif event.kind is BlockKind.TOOL_CALL:
            if item.item.get("type") == tools.FUNCTION_CALL:  # other calls are written whole at the end
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

    def _call_complete(self, item: SentItem, call: ToolCall) -> None:
        """Close a tool call's item: its arguments (or input) done, its fields the call's."""
        item_type = item.item.get("type")
        if item_type == tools.FUNCTION_CALL:
            item.item.update(call_id=call.id, name=call.name)
            self._emit({"type": items.ARGUMENTS_DONE, **item.where(), "arguments": call.arguments})
            return
        if item_type == tools.CUSTOM_CALL:
            text = tools.custom_input(call)
            if not item.flush().get("input"):
                self._emit({"type": tools.INPUT_DELTA, **item.where(), "delta": text})
            item.item.update(call_id=call.id, name=call.name)
            self._emit({"type": tools.INPUT_DONE, **item.where(), "input": text})
            return
        item.item = {**tools.item_with(call, item.item), "id": item.id}

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
            self._call_complete(item, block.tool_call)
        elif block.kind is BlockKind.OTHER and data:
            item.item = {**data, "id": item.id}
        self._emit(item.finished())


def _first_hints(events: list[CallEvent]) -> ResponsesHints | None:
    """The hints of the first of `events` that has Responses hints (those of one origin agree)."""
    for event in events:
        hints = hints_of(event, ResponsesHints)
        if hints is not None:
            return hints
    return None
