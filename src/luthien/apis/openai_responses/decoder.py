"""Decoding an OpenAI Responses stream into normalized events (the mapping: `openai_responses`).

Output items become blocks: a message's content parts one block each, a reasoning item a THINKING
block, a tool-call item (`openai_responses_tools`) a TOOL_CALL block, any other known item an OTHER
block. A block's closing events are held until it is known whether its item ends with it, so one
origin covers them. An item of a type Luthien cannot interpret raises `UnreadableOutput`.

The decoder shares nothing with the encoder: a block's events carry `ResponsesHints` naming the
upstream item they came from (its output index, as announced), an `Opaque` event of an announced item
names its index, and `MessageEnd` lists the indices announced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from luthien.apis.openai_responses import items, tools
from luthien.apis.openai_responses.items import ResponsesHints, as_dict
from luthien.call.assembly import BlockAssembly
from luthien.call.codec import UnreadableOutput
from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageStart,
    Opaque,
    Origin,
    with_origin,
)
from luthien.wire.events import WireEvent

_TEXT_DELTAS = {
    BlockKind.TEXT: frozenset({items.TEXT_DELTA}),
    BlockKind.THINKING: frozenset({items.SUMMARY_DELTA, items.REASONING_DELTA}),
    BlockKind.TOOL_CALL: frozenset({items.ARGUMENTS_DELTA}),
}
_FINAL_KEYS = frozenset({"text", "arguments", "input", "part", "item"})
"""Fields of closing events that carry a block's final value."""
_CALL_CLOSING = frozenset({items.ARGUMENTS_DONE, tools.INPUT_DONE})
"""Events that close a tool call's streamed arguments (or input) before its item ends."""


@dataclass(slots=True)
class _Pending:
    """A block's closing events, held until it is known whether its item ends with it."""

    block: int
    output_index: int
    wire: list[WireEvent]
    part_done: bool


class ResponsesStreamDecoder:
    """Decodes one Responses stream (see the module docstring)."""

    def __init__(self) -> None:
        self._templates: dict[int, dict[str, Any]] = {}
        """Upstream output index → the item as `output_item.added` announced it."""
        self._next_block = 0
        self._assemblies: dict[int, BlockAssembly] = {}
        self._inputs: dict[int, list[str]] = {}
        self._item_blocks: dict[int, int] = {}
        self._part_blocks: dict[tuple[int, int], int] = {}
        self._held: dict[int, WireEvent] = {}
        self._pending: _Pending | None = None

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
            out.extend(self._opaque(wire) for wire in self._held.values())
            self._held.clear()
        return [*out, *self._decode(event, data)]

    def _opaque(self, event: WireEvent) -> CallEvent:
        """An event passed as it is; one of an announced item names it (dropped with its item)."""
        oi = as_dict(event.data).get("output_index")
        hints = ResponsesHints(output_index=oi) if isinstance(oi, int) and oi in self._templates else None
        return with_origin(Opaque(event, hints=hints), Origin((event,)))

    def _decode(self, event: WireEvent, data: dict[str, Any]) -> list[CallEvent]:
        origin = Origin((event,))
        oi, ci = data.get("output_index"), data.get("content_index")
        if event.type == items.CREATED:
            response = as_dict(data.get("response"))
            start = MessageStart(str(response.get("id", "")), str(response.get("model", "")), data=response)
            return [with_origin(start, origin)]
        if event.type in items.TERMINAL:
            saw_call = any(tools.is_tool_item(item) for item in self._templates.values())
            end = items.message_end(event.type, as_dict(data.get("response")), saw_call, data)
            hints = ResponsesHints(announced=tuple(sorted(self._templates)))
            return [with_origin(dataclasses.replace(end, hints=hints), origin)]
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
            closing = event.type in _CALL_CLOSING
        elif isinstance(ci, int) and (oi, ci) in self._part_blocks:
            block = self._part_blocks[(oi, ci)]
            closing = event.type in (items.TEXT_DONE, items.PART_DONE)
        elif event.type in items.CONTENT_EVENTS:  # of an item not open: a client would add it unread
            return []
        else:
            return [self._opaque(event)]
        kind = self._assemblies[block].start.kind
        if closing and (kind is BlockKind.TOOL_CALL or isinstance(ci, int)):
            self._item_blocks.pop(oi, None)
            if isinstance(ci, int):
                self._part_blocks.pop((oi, ci), None)
            self._pending = _Pending(block, oi, [event], event.type != items.TEXT_DONE)
            return []
        hints = self._assemblies[block].start.hints
        if event.type in _TEXT_DELTAS.get(kind, ()) and self._streams_text(block):
            delta = BlockDelta(block, kind, text=str(data.get("delta", "")), hints=hints)
        else:
            if event.type == tools.INPUT_DELTA and block in self._inputs:
                self._inputs[block].append(str(data.get("delta", "")))  # judged whole at the item's end
            delta = BlockDelta(block, kind, data=data, hints=hints)
        self._assemblies[block].add(delta)
        return [with_origin(delta, origin)]

    def _streams_text(self, block: int) -> bool:
        """Whether a block's deltas are its text: not so for tool calls other than `function_call`."""
        start = self._assemblies[block].start
        return start.kind is not BlockKind.TOOL_CALL or as_dict(start.data).get("type") == tools.FUNCTION_CALL

    def _is_message(self, output_index: int) -> bool:
        return self._templates.get(output_index, {}).get("type") == "message"

    def _new_block(self, start: BlockStart) -> BlockStart:
        self._assemblies[start.index] = BlockAssembly(start)
        self._next_block += 1
        return start

    def _item_added(self, event: WireEvent, oi: int, item: dict[str, Any]) -> list[CallEvent]:
        tools.check_item(item)
        self._templates[oi] = item
        if item.get("type") == "message":
            self._held[oi] = event
            return []
        kind = items.ITEM_KINDS.get(str(item.get("type")), BlockKind.OTHER)
        call = tools.call_of(item, "") if kind is BlockKind.TOOL_CALL else None
        hints = ResponsesHints(source=item, output_index=oi, item=item)
        start = self._new_block(BlockStart(self._next_block, kind, tool_call=call, data=item, hints=hints))
        self._item_blocks[oi] = start.index
        if item.get("type") == tools.CUSTOM_CALL:
            self._inputs[start.index] = []
        return [with_origin(start, Origin((event,)))]

    def _part_added(self, oi: int, ci: int, data: dict[str, Any]) -> BlockStart:
        part = as_dict(data.get("part"))
        kind = BlockKind.TEXT if part.get("type") == "output_text" else BlockKind.OTHER
        hints = ResponsesHints(source=part, output_index=oi, item=self._templates.get(oi))
        start = self._new_block(BlockStart(self._next_block, kind, data=part, hints=hints))
        self._part_blocks[(oi, ci)] = start.index
        return start

    def _item_done(self, event: WireEvent, oi: int, item: dict[str, Any]) -> list[CallEvent]:
        held = self._held.pop(oi, None)
        if held is not None:  # a message without content parts
            template = self._templates[oi]
            hints = ResponsesHints(source=template, output_index=oi, item=template)
            start = self._new_block(BlockStart(self._next_block, BlockKind.OTHER, data=template, hints=hints))
            self._assemblies.pop(start.index)
            complete = BlockComplete(start.index, Block(BlockKind.OTHER, data=item, hints=hints), hints=hints)
            return [with_origin(start, Origin((held,))), with_origin(complete, Origin((event,)))]
        block = self._item_blocks.pop(oi, None)
        if block is None:
            if tools.is_tool_item(item):  # a call never announced: a client would add it unjudged
                raise UnreadableOutput(tools.UNREADABLE_ITEM_MESSAGE.format(type=item.get("type")))
            tools.check_item(item)
            return [self._opaque(event)]
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
        kind, hints = assembly.start.kind, assembly.start.hints
        final: dict[str, Any] = {}
        for event in wire:
            data = as_dict(event.data)
            final.update({k: v for k, v in data.items() if k in _FINAL_KEYS})
        item = as_dict(final.get("item"))
        deltas: list[BlockDelta] = []
        text = {
            BlockKind.TEXT: final.get("text"),
            BlockKind.THINKING: items.reasoning_text(item),
            BlockKind.TOOL_CALL: self._call_arguments(assembly, final, item),
        }.get(kind)
        if isinstance(text, str) and text and not assembly.text:
            deltas.append(BlockDelta(block, kind, text=text, hints=hints))
        signature = item.get("encrypted_content") if kind is BlockKind.THINKING else None
        if isinstance(signature, str) and signature:
            deltas.append(BlockDelta(block, kind, signature=signature, hints=hints))
        for delta in deltas:
            assembly.add(delta)
        if kind is BlockKind.OTHER:
            part = items.is_part(kind, as_dict(assembly.start.data))
            data = as_dict(final.get("part")) if part else item
            complete = BlockComplete(block, Block(kind, data=data, hints=hints), hints=hints)
        else:
            complete = BlockComplete(block, assembly.block(), hints=hints)
        events: list[CallEvent] = [*deltas, complete]
        origin = Origin(tuple(wire), parts=len(events))
        return [with_origin(event, origin) for event in events]

    def _call_arguments(self, assembly: BlockAssembly, final: dict[str, Any], item: dict[str, Any]) -> Any:
        """A tool call's arguments as its closing events (or item) say; streamed ones come first.

        A `function_call`'s arguments are its deltas (these values fill in only when none came); a
        custom call's input is its deltas, else its `.done` input, else the item's; any other call
        is the item as it ended.
        """
        whole = {**as_dict(assembly.start.data), **item}
        item_type = whole.get("type")
        if item_type == tools.FUNCTION_CALL:
            return final.get("arguments", item.get("arguments"))
        if item_type == tools.CUSTOM_CALL:
            pieces = self._inputs.pop(assembly.start.index, None)
            text = "".join(pieces) if pieces else final.get("input", whole.get("input"))
            return tools.custom_arguments(str(text or ""))
        return tools.arguments_of(whole)

    def finish_decode(self) -> list[CallEvent]:
        """A block whose closing events came but not its item's end completes; held items pass."""
        out = self._complete(self._pending) if self._pending is not None else []
        out.extend(self._opaque(wire) for wire in self._held.values())
        self._held.clear()
        return out
