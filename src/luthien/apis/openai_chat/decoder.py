"""Decoding an OpenAI Chat Completions stream into normalized events.

Chat has no block events: a block is implied by which field of `choices[0].delta` a chunk fills.
Reasoning, content and refusal are one block at a time (a piece of another of these fields closes the
open one). Tool calls are blocks of their own, keyed by their `index`: their fragments may arrive in
any interleaving (with each other and with text), so every tool call stays open and collects its
fragments until the finish chunk, and the open text block stays open across tool calls (Chat's
`content` is one string). Everything closes at the finish chunk, whose `MessageEnd` waits for
`[DONE]`; content in chunks between the two is cut (the message is over: a client would still add it).

Only the first choice 0 is read: other entries of `choices` are cut from a chunk before it is decoded
(the chunk is then re-serialized), and a chunk for other choices only is dropped, so nothing reaches
the client unread.

The decoder shares nothing with the encoder: what the encoder needs of the wire form is noted on the
events as `ChatHints` (a tool call's wire `index`, the reasoning field, the trailing chunks and
`[DONE]` on `MessageEnd`).
"""

from __future__ import annotations

from typing import Any

from luthien.apis.openai_chat.fields import (
    BLOCK_KEYS,
    CHUNK,
    CONTENT,
    REASONING_KEYS,
    REFUSAL,
    ChatHints,
    as_dict,
    as_list,
    check_tool_entry,
    custom_arguments,
    first_choice,
    is_custom,
    readable_part,
    stop_reason,
    usage_of,
)
from luthien.call.assembly import BlockAssembly
from luthien.call.events import (
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
    Usage,
    with_origin,
)
from luthien.wire.events import DONE, WireEvent

ToolKey = int | str
"""A tool call's wire `index`, or a made-up key for a call sent without one."""


class ChatStreamDecoder:
    """Decodes one Chat Completions stream (see the module docstring)."""

    def __init__(self) -> None:
        self._reasoning_keys: tuple[str, ...] = ()
        """The delta field(s) the upstream sends reasoning in, as first seen."""
        self._started = False
        self._closed = False
        self._block: BlockAssembly | None = None
        self._calls: dict[ToolKey, BlockAssembly] = {}
        self._last_call: ToolKey | None = None
        self._next_index = 0
        self._held: list[WireEvent] | None = None
        self._held_events: list[CallEvent] = []
        self._finish: dict[str, Any] | None = None
        self._inputs: dict[int, list[str]] = {}

    def decode(self, event: WireEvent) -> list[CallEvent]:
        """See `CallCodec.decode`."""
        if event.type == CHUNK and (cut := readable_part(event.data)) is not None:
            if not cut["choices"]:
                return []  # other choices only: never sent unread
            event = WireEvent(event.type, cut, event.sse_event)
        if self._held is not None:
            if event.type == DONE:
                return self._end(event)
            self._held.append(_without_content(event))
            return []
        if event.type == "error":
            self._closed = True
        elif event.type == DONE and self._started and not self._closed:
            self._held = []
            return self._end(event)
        elif not self._closed and event.type == CHUNK and (choice := first_choice(event.data)) is not None:
            events = self._chunk_events(as_dict(event.data), choice)
            if choice.get("finish_reason"):
                self._held, self._held_events, self._finish = [event], events, as_dict(event.data)
                return []
            if events:
                return _attach(events, (event,))
        return [with_origin(Opaque(event), Origin((event,)))]

    def finish_decode(self) -> list[CallEvent]:
        """A finish chunk not followed by `[DONE]` still ends the message; open blocks stay incomplete."""
        if self._held is None:
            return []
        return self._end(None, ended_without_done=True)

    def _chunk_events(self, data: dict[str, Any], choice: dict[str, Any]) -> list[CallEvent]:
        events: list[CallEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(str(data.get("id", "")), str(data.get("model", "")), data=data))
        delta = as_dict(choice.get("delta"))
        extra = _wire_fields(choice, delta)
        reasoning = [key for key in REASONING_KEYS if isinstance(delta.get(key), str) and delta[key]]
        if reasoning:
            self._reasoning_keys = self._reasoning_keys or tuple(reasoning)
            events.extend(self._piece(BlockKind.THINKING, delta[reasoning[0]]))
        for key, kind in (("content", BlockKind.TEXT), ("refusal", BlockKind.OTHER)):
            if isinstance(delta.get(key), str) and delta[key]:
                events.extend(self._piece(kind, delta[key], extra))
                extra = None  # the chunk's other fields go with its first piece only
        for entry in as_list(delta.get("tool_calls")):
            events.extend(self._tool_piece(as_dict(entry)))
        return events

    def _start(
        self, kind: BlockKind, call: ToolCall | None = None, data: Any = None, hints: ChatHints | None = None
    ) -> BlockAssembly:
        """A new block; its deltas carry the same `hints` (`_add`)."""
        assembly = BlockAssembly(BlockStart(self._next_index, kind, tool_call=call, data=data, hints=hints))
        self._next_index += 1
        return assembly

    def _piece(self, kind: BlockKind, text: str, extra: dict[str, Any] | None = None) -> list[CallEvent]:
        """A reasoning, content or refusal piece: continues the open block of its kind, or opens one."""
        events: list[CallEvent] = []
        if self._block is None or self._block.start.kind is not kind:
            events.extend(self._close_block())
            data = (
                dict(REFUSAL)
                if kind is BlockKind.OTHER
                else dict(CONTENT)
                if kind is BlockKind.TEXT
                else None
            )
            hints = ChatHints(reasoning_keys=self._reasoning_keys) if kind is BlockKind.THINKING else None
            self._block = self._start(kind, data=data, hints=hints)
            events.append(self._block.start)
        return [*events, *_add(self._block, text, extra)]

    def _tool_piece(self, entry: dict[str, Any]) -> list[CallEvent]:
        """A tool-call fragment: goes to its call, whichever calls came in between.

        A custom call's input fragments are data deltas (collected here); its arguments, in the
        normalized view, arrive as one delta when it completes.
        """
        check_tool_entry(entry)
        function = as_dict(entry.get("custom") if is_custom(entry) else entry.get("function"))
        arguments = function.get("input" if is_custom(entry) else "arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        last = self._calls.get(self._last_call) if self._last_call is not None else None
        last_id = last.start.tool_call.id if last is not None and last.start.tool_call else None
        key: ToolKey
        if isinstance(entry.get("index"), int):
            key = entry["index"]
        elif last is not None and self._last_call is not None and entry.get("id") in (None, last_id):
            key = self._last_call  # no index: the latest call's piece unless it names another id
        else:
            key = f"#{len(self._calls)}"
        events: list[CallEvent] = []
        assembly = self._calls.get(key)
        if assembly is None:
            call = ToolCall(str(entry.get("id") or ""), str(function.get("name") or ""), "")
            hints = ChatHints(tool_index=key) if isinstance(key, int) else None
            assembly = self._calls[key] = self._start(BlockKind.TOOL_CALL, call, entry, hints)
            events.append(assembly.start)
            if is_custom(entry):
                self._inputs[assembly.start.index] = []
        self._last_call = key
        inputs = self._inputs.get(assembly.start.index)
        if inputs is None:
            return [*events, *_add(assembly, arguments)]
        if arguments:
            inputs.append(arguments)
            start = assembly.start
            events.append(BlockDelta(start.index, start.kind, data={"input": arguments}, hints=start.hints))
        return events

    def _call_complete(self, call: BlockAssembly) -> list[CallEvent]:
        """A tool call's completion (a custom call's arguments first, as one delta)."""
        inputs = self._inputs.pop(call.start.index, None)
        events: list[CallEvent] = []
        if inputs is not None:
            events.extend(_add(call, custom_arguments("".join(inputs))))
        return [*events, BlockComplete(call.start.index, call.block())]

    def _close_block(self) -> list[CallEvent]:
        assembly, self._block = self._block, None
        return [] if assembly is None else [BlockComplete(assembly.start.index, assembly.block())]

    def _end(self, done: WireEvent | None, ended_without_done: bool = False) -> list[CallEvent]:
        held, self._held = self._held or [], None
        closing = [
            *self._close_block(),
            *(event for call in self._calls.values() for event in self._call_complete(call)),
        ]
        self._calls.clear()
        events = [*self._held_events, *closing]
        self._held_events = []
        finish = self._finish
        reason = (first_choice(finish) or {}).get("finish_reason")
        usage: Usage | None = None  # the last one the upstream reported
        for wire in held:
            usage = usage_of(as_dict(wire.data).get("usage")) or usage
        hints = ChatHints(
            trailer=tuple(held[1:] if finish is not None else held),
            done=done,
            ended_without_done=ended_without_done,
            usage=usage,
        )
        events.append(
            MessageEnd(
                stop_reason(reason),
                provider_stop_reason=reason if isinstance(reason, str) else None,
                usage=usage,
                data=finish,
                hints=hints,
            )
        )
        self._closed = True  # anything after the end passes as Opaque
        lead = len(closing) if len(events) == len(closing) + 1 else None
        return _attach(events, (*held, done) if done is not None else tuple(held), lead)


def _without_content(event: WireEvent) -> WireEvent:
    """A chunk after the finish chunk, without content: the message is over, a client would add it."""
    choice = first_choice(event.data) if event.type == CHUNK else None
    delta = as_dict(choice.get("delta")) if choice is not None else {}
    if choice is None or not any(delta.get(key) for key in BLOCK_KEYS):
        return event
    kept = {key: value for key, value in delta.items() if key not in BLOCK_KEYS}
    return WireEvent(
        event.type, {**as_dict(event.data), "choices": [{**choice, "delta": kept}]}, event.sse_event
    )


def _wire_fields(choice: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any] | None:
    """A chunk's fields beside its text (`annotations`, ..., and `logprobs`), with the text they describe."""
    fields = {key: value for key, value in delta.items() if key not in BLOCK_KEYS and key != "role"}
    logprobs = choice.get("logprobs")
    if not fields and logprobs is None:
        return None
    text = delta.get("content") if isinstance(delta.get("content"), str) else delta.get("refusal")
    return {"delta": fields, "logprobs": logprobs, "text": text}


def _add(assembly: BlockAssembly, text: str, extra: dict[str, Any] | None = None) -> list[CallEvent]:
    if not text:
        return []
    start = assembly.start
    delta = BlockDelta(start.index, start.kind, text=text, wire_fields=extra, hints=start.hints)
    assembly.add(delta)
    return [delta]


def _attach(events: list[CallEvent], wire: tuple[WireEvent, ...], lead: int | None = None) -> list[CallEvent]:
    """Give the events decoded from `wire` one shared origin.

    Leading `BlockComplete`s close blocks that earlier chunks carried; they have no wire form and get
    empty origins of their own, so that the group of a chunk starting a tool call (which the repairer
    holds) does not also hold the completion of the block before it, and the end's group is not
    broken by completions of tool calls the repairer holds. `lead` overrides how many lead (the end's
    closing events, custom calls' argument deltas among them).
    """
    if lead is None:
        lead = 0
        while lead < len(events) and isinstance(events[lead], BlockComplete):
            lead += 1
    origin = Origin(wire, len(events) - lead)
    return [
        *(with_origin(event, Origin(())) for event in events[:lead]),
        *(with_origin(event, origin) for event in events[lead:]),
    ]
