"""The repairer: whatever a policy emits, the encoder gets a well-formed normalized sequence.

Normal policy work (dropped blocks, whole blocks, tool calls moved last, stop reasons following the
blocks) is repaired silently; policy mistakes are repaired and reported. Tests assert the report
kinds (the first argument of the report callback), never message text.
"""

from __future__ import annotations

from typing import Any

import pytest

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
    text_block,
    tool_call_block,
    with_origin,
)
from luthien.call.repair import Repairer
from luthien.wire.events import WireEvent
from tests.support.call_events import START, text_events, tool_events

TEXT = BlockKind.TEXT
THINKING = BlockKind.THINKING
TOOL = BlockKind.TOOL_CALL
CALL = ToolCall("toolu_1", "get_weather", '{"city": "Paris"}')
OTHER_CALL = ToolCall("toolu_2", "get_time", '{"tz": "UTC"}')
PING = Opaque(WireEvent("ping", {"type": "ping"}, "ping"))

# A shape is a compact, comparable description of an event.
Shape = tuple[Any, ...]


class Recorder:
    """A repairer plus the reports it made."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.repairer = Repairer(lambda kind, detail: self.reports.append((kind, detail)))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.reports]

    def feed(self, *events: CallEvent) -> list[CallEvent]:
        return [out for event in events for out in self.repairer.feed(event)]

    def run(self, *events: CallEvent, upstream_ended: bool = True) -> list[CallEvent]:
        return [*self.feed(*events), *self.repairer.finish(upstream_ended)]


def shape(event: CallEvent) -> Shape:
    match event:
        case MessageStart():
            return ("message_start", event.message_id)
        case BlockStart():
            name = event.tool_call.name if event.tool_call is not None else None
            return ("start", event.index, event.kind.value, name)
        case BlockDelta():
            if event.signature is not None:
                return ("signature", event.index, event.signature)
            return ("delta", event.index, event.text)
        case BlockComplete():
            return ("complete", event.index, event.block)
        case MessageEnd():
            return ("end", event.stop_reason.value)
        case Opaque():
            return ("opaque", event.wire.type)


def shapes(events: list[CallEvent]) -> list[Shape]:
    return [shape(event) for event in events]


def text_shapes(index: int, *pieces: str) -> list[Shape]:
    return [
        ("start", index, "text", None),
        *(("delta", index, piece) for piece in pieces),
        ("complete", index, text_block("".join(pieces))),
    ]


def tool_shapes(index: int, call: ToolCall) -> list[Shape]:
    return [
        ("start", index, "tool_call", call.name),
        ("delta", index, call.arguments),
        ("complete", index, tool_call_block(call)),
    ]


# --- normal policy work: silent ---------------------------------------------------------------


def test_well_formed_sequence_passes_as_the_same_objects() -> None:
    recorder = Recorder()
    events: list[CallEvent] = [
        START,
        PING,
        *text_events(0, "Hel", "lo"),
        *tool_events(1, CALL),
        MessageEnd(StopReason.TOOL_USE),
    ]

    out = recorder.run(*events)

    assert len(out) == len(events)
    assert all(sent is original for sent, original in zip(out, events, strict=True))
    assert recorder.reports == []


def test_blocks_are_renumbered_after_a_dropped_block() -> None:
    recorder = Recorder()
    # Upstream blocks 0, 1, 2; the policy dropped block 1 entirely.
    out = recorder.run(
        START,
        *text_events(0, "a"),
        *text_events(2, "c"),
        *text_events(5, "e"),
        MessageEnd(StopReason.END_TURN),
    )

    assert shapes(out) == [
        ("message_start", "msg_1"),
        *text_shapes(0, "a"),
        *text_shapes(1, "c"),
        *text_shapes(2, "e"),
        ("end", "end_turn"),
    ]
    assert recorder.reports == []


def test_whole_block_completion_is_expanded_into_start_delta_complete() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        *text_events(0, "before"),
        BlockComplete(-1, text_block("inserted")),
        MessageEnd(StopReason.END_TURN),
    )

    assert shapes(out) == [
        ("message_start", "msg_1"),
        *text_shapes(0, "before"),
        *text_shapes(1, "inserted"),
        ("end", "end_turn"),
    ]
    assert recorder.reports == []


def test_whole_thinking_block_keeps_its_signature() -> None:
    recorder = Recorder()
    block = Block(THINKING, text="pondering", signature="sig==")

    out = recorder.run(START, BlockComplete(7, block), MessageEnd(StopReason.END_TURN))

    assert shapes(out) == [
        ("message_start", "msg_1"),
        ("start", 0, "thinking", None),
        ("delta", 0, "pondering"),
        ("signature", 0, "sig=="),
        ("complete", 0, block),
        ("end", "end_turn"),
    ]
    assert recorder.reports == []


def test_whole_tool_call_is_expanded_and_sent_last() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        BlockComplete(-1, tool_call_block(CALL)),
        *text_events(3, "after"),
        MessageEnd(StopReason.TOOL_USE),
    )

    assert shapes(out) == [
        ("message_start", "msg_1"),
        *text_shapes(0, "after"),
        *tool_shapes(1, CALL),
        ("end", "tool_use"),
    ]
    assert recorder.reports == []


def test_tool_calls_are_moved_after_a_later_text_block() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        *text_events(0, "first"),
        *tool_events(1, CALL, '{"city": ', '"Paris"}'),
        *text_events(2, "second"),
        *tool_events(3, OTHER_CALL),
        MessageEnd(StopReason.TOOL_USE),
    )

    assert shapes(out) == [
        ("message_start", "msg_1"),
        *text_shapes(0, "first"),
        *text_shapes(1, "second"),
        ("start", 2, "tool_call", CALL.name),
        ("delta", 2, '{"city": '),
        ("delta", 2, '"Paris"}'),
        ("complete", 2, tool_call_block(CALL)),
        *tool_shapes(3, OTHER_CALL),
        ("end", "tool_use"),
    ]
    assert recorder.reports == []


def test_tool_call_is_held_until_the_message_end() -> None:
    recorder = Recorder()

    assert recorder.feed(START, *tool_events(0, CALL)) == [START]
    assert shapes(recorder.feed(MessageEnd(StopReason.TOOL_USE))) == [
        *tool_shapes(0, CALL),
        ("end", "tool_use"),
    ]


def test_opaque_events_pass_anywhere_even_after_the_end() -> None:
    recorder = Recorder()
    end = MessageEnd(StopReason.END_TURN)

    out = recorder.run(PING, START, BlockStart(0, TEXT), PING, BlockComplete(0, text_block("")), end, PING)

    assert [type(event).__name__ for event in out] == [
        "Opaque",
        "MessageStart",
        "BlockStart",
        "Opaque",
        "BlockComplete",
        "MessageEnd",
        "Opaque",
    ]
    assert recorder.reports == []


# --- stop reasons -----------------------------------------------------------------------------


def test_tool_use_becomes_end_turn_when_every_tool_call_was_dropped() -> None:
    recorder = Recorder()
    out = recorder.run(
        START, *text_events(0, "I would call a tool"), MessageEnd(StopReason.TOOL_USE, "tool_use")
    )

    end = out[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.END_TURN
    assert end.provider_stop_reason is None


@pytest.mark.parametrize("stop", [StopReason.END_TURN, StopReason.STOP_SEQUENCE])
def test_plain_stop_becomes_tool_use_when_a_tool_call_was_added(stop: StopReason) -> None:
    recorder = Recorder()
    out = recorder.run(
        START, *text_events(0, "hi"), BlockComplete(-1, tool_call_block(CALL)), MessageEnd(stop, stop.value)
    )

    end = out[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE
    assert end.provider_stop_reason is None
    assert shapes(out)[-4:-1] == tool_shapes(1, CALL)


@pytest.mark.parametrize(
    "stop", [StopReason.MAX_TOKENS, StopReason.REFUSAL, StopReason.PAUSE_TURN, StopReason.OTHER]
)
@pytest.mark.parametrize("with_tool_call", [True, False], ids=["tool_call", "no_tool_call"])
def test_other_stop_reasons_are_kept(stop: StopReason, with_tool_call: bool) -> None:
    recorder = Recorder()
    tools = tool_events(1, CALL) if with_tool_call else []
    end = MessageEnd(stop, "provider_value")

    out = recorder.run(START, *text_events(0, "cut"), *tools, end)

    assert out[-1] is end


# --- policy mistakes: repaired and reported ---------------------------------------------------


def test_unclosed_block_is_closed_at_the_message_end() -> None:
    recorder = Recorder()
    out = recorder.run(
        START, BlockStart(4, TEXT), BlockDelta(4, TEXT, text="dangling"), MessageEnd(StopReason.END_TURN)
    )

    assert shapes(out) == [("message_start", "msg_1"), *text_shapes(0, "dangling"), ("end", "end_turn")]
    assert recorder.kinds == ["unclosed_block"]


def test_unclosed_tool_call_is_closed_and_sent() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        BlockStart(0, TOOL, tool_call=ToolCall(CALL.id, CALL.name, "")),
        BlockDelta(0, TOOL, text=CALL.arguments),
        MessageEnd(StopReason.TOOL_USE),
    )

    assert shapes(out) == [("message_start", "msg_1"), *tool_shapes(0, CALL), ("end", "tool_use")]
    assert recorder.kinds == ["unclosed_block"]


def test_delta_without_start_gets_a_start() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        BlockDelta(9, TEXT, text="orphan"),
        BlockComplete(9, text_block("orphan")),
        MessageEnd(StopReason.END_TURN),
    )

    assert shapes(out) == [("message_start", "msg_1"), *text_shapes(0, "orphan"), ("end", "end_turn")]
    assert recorder.kinds == ["delta_without_start"]


def test_restarted_block_closes_the_open_one() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        BlockStart(0, TEXT),
        BlockDelta(0, TEXT, text="one"),
        *text_events(0, "two"),
        MessageEnd(StopReason.END_TURN),
    )

    assert shapes(out) == [
        ("message_start", "msg_1"),
        *text_shapes(0, "one"),
        *text_shapes(1, "two"),
        ("end", "end_turn"),
    ]
    assert recorder.reports == [("block_restarted", {"index": 0})]


def test_duplicate_message_start_is_dropped() -> None:
    recorder = Recorder()
    out = recorder.run(
        START, MessageStart("msg_2", "claude"), *text_events(0, "x"), MessageEnd(StopReason.END_TURN)
    )

    assert shapes(out) == [("message_start", "msg_1"), *text_shapes(0, "x"), ("end", "end_turn")]
    assert recorder.reports == [("duplicate_message_start", {})]


def test_duplicate_message_end_is_dropped() -> None:
    recorder = Recorder()
    first = MessageEnd(StopReason.END_TURN)
    out = recorder.run(START, *text_events(0, "x"), first, MessageEnd(StopReason.MAX_TOKENS))

    assert [event for event in out if isinstance(event, MessageEnd)] == [first]
    assert recorder.reports == [("event_after_end", {"event": "MessageEnd"})]


def test_events_after_the_end_are_dropped() -> None:
    recorder = Recorder()
    before = recorder.feed(START, *text_events(0, "x"), MessageEnd(StopReason.END_TURN))

    after = recorder.feed(*text_events(1, "late"), BlockComplete(-1, text_block("later")), START)

    assert after == []
    assert shapes(before)[-1] == ("end", "end_turn")
    assert recorder.reports == [
        ("event_after_end", {"event": name})
        for name in ("BlockStart", "BlockDelta", "BlockComplete", "BlockComplete", "MessageStart")
    ]
    assert recorder.repairer.finish(True) == []


def test_missing_message_end_is_supplied_when_upstream_ended() -> None:
    recorder = Recorder()
    out = recorder.run(START, *tool_events(0, CALL), *text_events(1, "x"), upstream_ended=True)

    assert shapes(out) == [
        ("message_start", "msg_1"),
        *text_shapes(0, "x"),
        *tool_shapes(1, CALL),
        ("end", "tool_use"),
    ]
    assert recorder.reports == [("missing_message_end", {})]


def test_missing_message_end_is_not_supplied_when_upstream_did_not_end() -> None:
    recorder = Recorder()
    out = recorder.run(START, *text_events(0, "x"), *tool_events(1, CALL), upstream_ended=False)

    assert shapes(out) == [("message_start", "msg_1"), *text_shapes(0, "x")]
    assert not any(isinstance(event, MessageEnd) for event in out)
    assert recorder.reports == []


def test_pristine_upstream_completion_with_changed_deltas_is_silently_corrected() -> None:
    recorder = Recorder()
    upstream_complete = with_origin(
        BlockComplete(0, text_block("hello")), Origin((WireEvent("content_block_stop", {}),))
    )

    out = recorder.run(
        START,
        BlockStart(0, TEXT),
        BlockDelta(0, TEXT, text="HEL"),
        BlockDelta(0, TEXT, text="LO"),
        upstream_complete,
        MessageEnd(StopReason.END_TURN),
    )

    assert shapes(out) == [("message_start", "msg_1"), *text_shapes(0, "HEL", "LO"), ("end", "end_turn")]
    assert recorder.reports == []


def test_policy_made_completion_that_disagrees_is_corrected_and_reported() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        BlockStart(0, TEXT),
        BlockDelta(0, TEXT, text="actual"),
        BlockComplete(0, text_block("claimed")),
        MessageEnd(StopReason.END_TURN),
    )

    assert shapes(out) == [("message_start", "msg_1"), *text_shapes(0, "actual"), ("end", "end_turn")]
    assert recorder.reports == [("completion_disagrees_with_deltas", {"index": 0})]


def test_policy_made_tool_completion_that_disagrees_is_corrected_and_reported() -> None:
    recorder = Recorder()
    out = recorder.run(
        START,
        BlockStart(0, TOOL, tool_call=ToolCall(CALL.id, CALL.name, "")),
        BlockDelta(0, TOOL, text=CALL.arguments),
        BlockComplete(0, tool_call_block(ToolCall(CALL.id, CALL.name, '{"city": "Rome"}'))),
        MessageEnd(StopReason.TOOL_USE),
    )

    assert shapes(out) == [("message_start", "msg_1"), *tool_shapes(0, CALL), ("end", "tool_use")]
    assert recorder.reports == [("completion_disagrees_with_deltas", {"index": 0})]


def test_report_detail_names_the_block_index() -> None:
    recorder = Recorder()
    recorder.run(START, BlockDelta(3, TEXT, text="x"), MessageEnd(StopReason.END_TURN))

    assert recorder.reports == [("delta_without_start", {"index": 3}), ("unclosed_block", {"index": 3})]


def test_opaque_events_among_held_tool_calls_keep_their_place() -> None:
    recorder = Recorder()
    inside = Opaque(WireEvent("ping", {"type": "ping", "n": 1}, "ping"))
    between = Opaque(WireEvent("ping", {"type": "ping", "n": 2}, "ping"))
    call_a = tool_events(1, CALL)
    end = MessageEnd(StopReason.TOOL_USE)

    out = recorder.run(
        START,
        *text_events(0, "x"),
        call_a[0],
        inside,
        *call_a[1:],
        between,
        *tool_events(2, OTHER_CALL),
        end,
    )

    assert shapes(out) == [
        ("message_start", "msg_1"),
        *text_shapes(0, "x"),
        ("start", 1, "tool_call", CALL.name),
        ("opaque", "ping"),
        ("delta", 1, CALL.arguments),
        ("complete", 1, tool_call_block(CALL)),
        ("opaque", "ping"),
        *tool_shapes(2, OTHER_CALL),
        ("end", "tool_use"),
    ]
    assert [event for event in out if isinstance(event, Opaque)] == [inside, between]
    assert recorder.reports == []


def test_incomplete_upstream_sends_events_queued_with_held_tool_calls_but_not_the_calls() -> None:
    recorder = Recorder()
    error = Opaque(WireEvent("error", {"type": "error", "error": {"type": "overloaded_error"}}, "error"))

    out = recorder.run(START, *text_events(0, "x"), *tool_events(1, CALL), error, upstream_ended=False)

    assert shapes(out) == [("message_start", "msg_1"), *text_shapes(0, "x"), ("opaque", "error")]
    assert out[-1] is error
    assert recorder.reports == []


def test_incomplete_upstream_sends_events_queued_in_an_open_tool_call_and_leaves_open_text_unsent() -> None:
    # Cut mid-stream: a text block and a tool call are both still open, a ping was queued in the call.
    recorder = Recorder()
    ping = Opaque(WireEvent("ping", {"type": "ping"}, "ping"))

    out = recorder.run(
        START,
        BlockStart(0, TEXT),
        BlockDelta(0, TEXT, text="partial"),
        BlockStart(1, TOOL, tool_call=ToolCall(CALL.id, CALL.name, "")),
        BlockDelta(1, TOOL, text='{"ci'),
        ping,
        upstream_ended=False,
    )

    assert shapes(out) == [
        ("message_start", "msg_1"),
        ("start", 0, "text", None),
        ("delta", 0, "partial"),
        ("opaque", "ping"),
    ]
    assert out[-1] is ping
    assert recorder.reports == []
