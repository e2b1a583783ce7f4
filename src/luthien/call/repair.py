"""The repairer: whatever a policy returns, the encoder receives a well-formed normalized sequence.

It enforces the contract in `luthien.call.codec`: blocks renumbered 0, 1, 2... in the order sent;
a block completed without a start (a whole block from `send_text` or a replaced tool call) expanded
into start, deltas and completion; every started block completed; tool-call blocks held and sent
after every other block (events that arrive among held tool calls stay with them); at most one
`MessageStart` and one `MessageEnd`, whose stop reason matches what was sent (no tool call left →
`end_turn`; a tool call added → `tool_use`; `max_tokens`, `refusal` and the like kept).

Expanding whole blocks, moving tool calls last and fixing the stop reason after a dropped tool call
are the normal way policies work and are not reported. Everything else it fixes (a delta without a
start, a block left open, a completion the policy built that disagrees with its deltas, a duplicate
start or end, events after the end, a missing end) is a policy mistake: it is repaired and reported
through `report(kind, detail)`.

States of one block (keyed by the index the policy used):

```
(none) --BlockStart--> open --BlockDelta--> open --BlockComplete--> (none)
(none) --BlockDelta--> open                      [repair: delta_without_start]
(none) --BlockComplete--> (none)                 [whole block: expanded]
open   --MessageEnd--> (none)                    [repair: unclosed_block]
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from luthien.call.assembly import BlockAssembly, whole_block_events
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
)

RepairReport = Callable[[str, dict[str, Any]], None]

# Stop reasons that only make sense with (or without) a tool call in the message.
_TOOL_STOP = StopReason.TOOL_USE
_PLAIN_STOPS = frozenset({StopReason.END_TURN, StopReason.STOP_SEQUENCE})


class _OpenBlock:
    __slots__ = ("assembly", "held", "out_index")

    def __init__(self, start: BlockStart, out_index: int | None, held: list[CallEvent] | None) -> None:
        self.assembly = BlockAssembly(start)
        self.out_index = out_index
        self.held = held


class Repairer:
    """Turns one policy's output into a well-formed sequence. One instance per call and policy."""

    def __init__(self, report: RepairReport) -> None:
        self._report = report
        self._next_index = 0
        self._open: dict[int, _OpenBlock] = {}
        self._held_tools: list[list[CallEvent]] = []
        self._started = False
        self._ended = False
        self._sent_tool_calls = 0

    def feed(self, event: CallEvent) -> list[CallEvent]:
        """The events to pass on for one event of the policy's output."""
        if isinstance(event, Opaque):
            if self._ended:
                return [event]
            # Keep upstream order: an event that arrives among held tool calls goes out with them.
            open_held = [block.held for block in self._open.values() if block.held is not None]
            if open_held:
                open_held[-1].append(event)
                return []
            if self._held_tools:
                self._held_tools.append([event])
                return []
            return [event]
        if self._ended:
            self._report("event_after_end", {"event": type(event).__name__})
            return []
        match event:
            case MessageStart():
                if self._started:
                    self._report("duplicate_message_start", {})
                    return []
                self._started = True
                return [event]
            case BlockStart():
                out: list[CallEvent] = []
                if event.index in self._open:
                    self._report("block_restarted", {"index": event.index})
                    out.extend(self._close(event.index))
                return [*out, *self._start(event)]
            case BlockDelta():
                out = []
                if event.index not in self._open:
                    self._report("delta_without_start", {"index": event.index})
                    out.extend(self._start(BlockStart(event.index, event.kind)))
                return [*out, *self._delta(event)]
            case BlockComplete():
                if event.index not in self._open:
                    return self._whole(event.block)
                return self._complete(event)
            case MessageEnd():
                return self._end(event)

    def finish(self, upstream_ended: bool) -> list[CallEvent]:
        """Close the sequence when the policy's output is over.

        Args:
            upstream_ended: whether the upstream's message end was seen; only then is a missing end
                supplied (an incomplete upstream stream must not look complete).
        """
        if self._ended:
            return []
        if not upstream_ended:
            # An incomplete stream: held tool calls are never sent, but events queued with them
            # (e.g. the upstream's own error event) still are.
            held_lists = [*self._held_tools, *(b.held for b in self._open.values() if b.held is not None)]
            self._held_tools = []
            return [item for held in held_lists for item in held if isinstance(item, Opaque)]
        self._report("missing_message_end", {})
        return self._end(MessageEnd(StopReason.END_TURN))

    def _start(self, event: BlockStart) -> list[CallEvent]:
        if event.kind is BlockKind.TOOL_CALL:
            held: list[CallEvent] = [event]
            self._open[event.index] = _OpenBlock(event, None, held)
            return []
        out_index = self._take_index()
        self._open[event.index] = _OpenBlock(event, out_index, None)
        return [_renumber(event, out_index)]

    def _delta(self, event: BlockDelta) -> list[CallEvent]:
        block = self._open[event.index]
        block.assembly.add(event)
        if block.held is not None:
            block.held.append(event)
            return []
        assert block.out_index is not None
        return [_renumber(event, block.out_index)]

    def _complete(self, event: BlockComplete) -> list[CallEvent]:
        block = self._open.pop(event.index)
        assembled = block.assembly.block()
        if block.assembly.start.kind is not BlockKind.OTHER and event.block != assembled:
            # An upstream completion disagrees because the policy changed the deltas: expected.
            # A completion the policy built itself that disagrees is the policy's mistake.
            if event.origin is None:
                self._report("completion_disagrees_with_deltas", {"index": event.index})
            event = BlockComplete(event.index, assembled)
        if block.held is not None:
            block.held.append(event)
            self._held_tools.append(block.held)
            return []
        assert block.out_index is not None
        return [_renumber(event, block.out_index)]

    def _close(self, index: int) -> list[CallEvent]:
        block = self._open[index]
        return self._complete(BlockComplete(index, block.assembly.block()))

    def _whole(self, block: Block) -> list[CallEvent]:
        if block.kind is BlockKind.TOOL_CALL:
            self._held_tools.append(whole_block_events(-1, block))
            return []
        return whole_block_events(self._take_index(), block)

    def _end(self, event: MessageEnd) -> list[CallEvent]:
        out: list[CallEvent] = []
        for index in list(self._open):
            self._report("unclosed_block", {"index": index})
            out.extend(self._close(index))
        for held in self._held_tools:
            if isinstance(held[0], Opaque):
                out.extend(held)
                continue
            out_index = self._take_index()
            out.extend(_renumber(item, out_index) for item in held)
            self._sent_tool_calls += 1
        self._held_tools = []
        self._ended = True
        return [*out, self._consistent_end(event)]

    def _consistent_end(self, event: MessageEnd) -> MessageEnd:
        if event.stop_reason is _TOOL_STOP and self._sent_tool_calls == 0:
            return dataclasses.replace(event, stop_reason=StopReason.END_TURN, provider_stop_reason=None)
        if event.stop_reason in _PLAIN_STOPS and self._sent_tool_calls > 0:
            return dataclasses.replace(event, stop_reason=_TOOL_STOP, provider_stop_reason=None)
        return event

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index


def _renumber(event: CallEvent, index: int) -> CallEvent:
    if isinstance(event, BlockStart | BlockDelta | BlockComplete) and event.index != index:
        return dataclasses.replace(event, index=index)
    return event
