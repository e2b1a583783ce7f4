"""Assembling a block's value from its start and deltas: the one rule decoders and the repairer share.

Text and reasoning are the concatenated deltas; a tool call's arguments are the concatenated JSON
fragments exactly as streamed (`{}` when none came); a thinking signature is the concatenated
signature pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from luthien.call.events import Block, BlockComplete, BlockDelta, BlockKind, BlockStart, CallEvent, ToolCall

EMPTY_ARGUMENTS = "{}"


@dataclass(slots=True)
class BlockAssembly:
    """Accumulates one block while it streams."""

    start: BlockStart
    _parts: list[str] = field(default_factory=list[str])
    _signature: list[str] = field(default_factory=list[str])

    def add(self, delta: BlockDelta) -> None:
        """Append a delta's text or signature piece."""
        if delta.signature is not None:
            self._signature.append(delta.signature)
        elif delta.text:
            self._parts.append(delta.text)

    @property
    def text(self) -> str:
        """Everything streamed so far."""
        return "".join(self._parts)

    def block(self) -> Block:
        """The block's value as assembled so far."""
        start = self.start
        if start.kind is BlockKind.TOOL_CALL:
            call = start.tool_call or ToolCall(id="", name="")
            return Block(
                BlockKind.TOOL_CALL,
                tool_call=ToolCall(call.id, call.name, self.text or EMPTY_ARGUMENTS),
                data=start.data,
                hints=start.hints,
            )
        signature = "".join(self._signature) if self._signature else None
        return Block(start.kind, text=self.text, signature=signature, data=start.data, hints=start.hints)


def whole_block_events(index: int, block: Block) -> list[CallEvent]:
    """Start, deltas and completion for a block sent at once (each with the block's hints)."""
    tool_call = None
    hints = block.hints
    if block.tool_call is not None:
        tool_call = ToolCall(block.tool_call.id, block.tool_call.name, "")
    events: list[CallEvent] = [
        BlockStart(index, block.kind, tool_call=tool_call, data=block.data, hints=hints)
    ]
    if block.kind is BlockKind.TOOL_CALL and block.tool_call is not None:
        events.append(BlockDelta(index, block.kind, text=block.tool_call.arguments, hints=hints))
    elif block.text:
        events.append(BlockDelta(index, block.kind, text=block.text, hints=hints))
    if block.signature is not None:
        events.append(BlockDelta(index, block.kind, signature=block.signature, hints=hints))
    events.append(BlockComplete(index, block, hints=hints))
    return events
