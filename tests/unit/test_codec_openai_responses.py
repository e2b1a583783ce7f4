"""The OpenAI Responses codec: decoding, encoding, lossless round trips, and SDK acceptance of changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai._models import construct_type
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseReasoningItem,
    ResponseStreamEvent,
)

from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.apis.openai_responses.codec import OpenAIResponsesCodec
from luthien.call.codec import UnreadableOutput
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
    ToolCall,
    Usage,
    text_block,
)
from luthien.wire.apis import response_event
from luthien.wire.events import RESPONSE_BODY, WireEvent
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    response_object,
    responses_stream,
    sse_frame,
)
from tests.fake_provider import ToolCall as FakeCall
from tests.support.codec_streams import (
    EventPolicy,
    decode_events,
    identity,
    payloads,
    transcode,
    transcode_body,
)
from tests.support.event_policies import (
    appending,
    blocking_tools,
    dropping,
    dropping_tools,
    holding_tools,
    upper_text,
)

API = OPENAI_RESPONSES

WEATHER = FakeCall("call_w", "get_weather", {"city": "Paris", "days": [1, 2, 3]})
TIME = FakeCall("call_t", "get_time", {"timezone": "Europe/Paris"})


# --- harness ------------------------------------------------------------------------------------


def check_stream(data: bytes) -> dict[str, Any]:
    """Structural checks a strict client would make; returns the final response object."""
    events = payloads(API, data)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    added: list[dict[str, Any]] = []
    done: dict[int, dict[str, Any]] = {}
    for event in events:
        index = event.get("output_index")
        if event["type"] == "response.output_item.added":
            assert index == len(added)
            added.append(event["item"])
        elif index is not None:
            assert index < len(added), event
            assert index not in done, event
            if "item_id" in event:
                assert event["item_id"] == added[index]["id"], event
            if event["type"] == "response.output_item.done":
                assert event["item"]["id"] == added[index]["id"]
                done[index] = event["item"]
    assert sorted(done) == list(range(len(added)))
    final = events[-1]
    assert final["type"] in ("response.completed", "response.incomplete")
    output = final["response"]["output"]
    assert [item["id"] for item in output] == [item["id"] for item in added]
    assert output == [done[index] for index in range(len(added))]
    assert len({item["id"] for item in added}) == len(added)
    return final["response"]


def sdk_offline(data: bytes) -> Any:
    """The openai SDK's own stream accumulator (what `get_final_response()` uses), without HTTP."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=openai.omit, text_format=openai.omit)
    last: list[Any] = []
    for payload in payloads(API, data):
        event = cast(ResponseStreamEvent, construct_type(type_=ResponseStreamEvent, value=payload))
        last = state.handle_event(event)
    if last[-1].type == "response.incomplete":
        return last[-1].response
    assert state._completed_response is not None  # pyright: ignore[reportPrivateUsage]
    return state._completed_response  # pyright: ignore[reportPrivateUsage]


def frames_of(*events: dict[str, Any]) -> list[bytes]:
    """SSE frames for hand-written events, numbered from 0."""
    return [sse_frame(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]


def sdk_final(fake: FakeProvider, oai: openai.OpenAI, data: bytes) -> Any:
    fake.enqueue(StreamReply([data]))
    with oai.responses.stream(model="gpt-5", input="hi") as stream:
        return stream.get_final_response()


def sdk_body(fake: FakeProvider, oai: openai.OpenAI, body: Any) -> Any:
    fake.enqueue(JSONReply(body))
    return oai.responses.create(model="gpt-5", input="hi")


def calls_of(response: Any) -> list[tuple[str, str, str]]:
    return [
        (c.call_id, c.name, c.arguments) for c in response.output if isinstance(c, ResponseFunctionToolCall)
    ]


# --- builders used across tests -----------------------------------------------------------------

FULL = b"".join(
    responses_stream("Hello there, world.", reasoning="Let me think.", tool_calls=[WEATHER, TIME])
)
VARIANTS = {
    "text": b"".join(responses_stream("Just text, split in pieces.", text_chunks=5)),
    "tools": b"".join(responses_stream("", tool_calls=[WEATHER, TIME], json_chunks=7)),
    "text_tools": b"".join(responses_stream("Calling.", tool_calls=[WEATHER])),
    "reasoning": FULL,
    "empty_reasoning": b"".join(responses_stream("Hi", reasoning="")),
    "bad_json": b"".join(responses_stream("", tool_calls=[FakeCall("call_x", "f", '{"cut": ')])),
    "incomplete": b"".join(responses_stream("Trunc", status="incomplete")),
    "usage": b"".join(responses_stream("u", usage={"input_tokens": 7, "extra": {"x": 1}})),
}

ENCRYPTED_ITEM: dict[str, Any] = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [],
    "encrypted_content": "gAAA-added",
}
ENCRYPTED_DONE: dict[str, Any] = {
    **ENCRYPTED_ITEM,
    "summary": [{"type": "summary_text", "text": "A"}, {"type": "summary_text", "text": "B"}],
    "encrypted_content": "gAAA-done",
}
MSG_ID = "msg_1"
TWO_PARTS_DONE: dict[str, Any] = {
    "id": MSG_ID,
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "phase": "final_answer",
    "content": [
        {"type": "output_text", "annotations": [], "logprobs": [], "text": "One."},
        {"type": "output_text", "annotations": [], "logprobs": [], "text": "Two."},
    ],
}
WEB_ITEM: dict[str, Any] = {
    "id": "ws_1",
    "type": "web_search_call",
    "status": "completed",
    "action": {"type": "search"},
}
RESPONSE: dict[str, Any] = {
    "id": "resp_x",
    "object": "response",
    "created_at": 1,
    "model": "gpt-5",
    "status": "in_progress",
}


def _part(index: int, text: str, event: str) -> dict[str, Any]:
    where = {"item_id": MSG_ID, "output_index": 1, "content_index": index}
    part: dict[str, Any] = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    return {"type": event, **where, "part": part}


def rich_stream(final_type: str = "response.completed") -> list[bytes]:
    """Encrypted reasoning with two summary parts, a two-part message, a web search, unknown events."""
    at_rs = {"item_id": "rs_1", "output_index": 0}
    at_msg = {"item_id": MSG_ID, "output_index": 1}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**RESPONSE, "output": []}},
        {"type": "response.in_progress", "response": {**RESPONSE, "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": ENCRYPTED_ITEM},
    ]
    for si, text in enumerate("AB"):
        part = {"type": "summary_text", "text": text}
        events += [
            {
                "type": "response.reasoning_summary_part.added",
                **at_rs,
                "summary_index": si,
                "part": {**part, "text": ""},
            },
            {"type": "response.reasoning_summary_text.delta", **at_rs, "summary_index": si, "delta": text},
            {"type": "response.reasoning_summary_text.done", **at_rs, "summary_index": si, "text": text},
            {"type": "response.reasoning_summary_part.done", **at_rs, "summary_index": si, "part": part},
        ]
    events += [
        {"type": "response.output_item.done", "output_index": 0, "item": ENCRYPTED_DONE},
        {"type": "response.output_item.added", "output_index": 1, "item": {**TWO_PARTS_DONE, "content": []}},
    ]
    for ci, text in enumerate(["One.", "Two."]):
        events += [
            _part(ci, "", "response.content_part.added"),
            {
                "type": "response.output_text.delta",
                **at_msg,
                "content_index": ci,
                "delta": text[:2],
                "logprobs": [],
            },
            {"type": "response.future_event", **at_msg, "content_index": ci, "novel": True},
            {
                "type": "response.output_text.delta",
                **at_msg,
                "content_index": ci,
                "delta": text[2:],
                "logprobs": [],
            },
            {
                "type": "response.output_text.done",
                **at_msg,
                "content_index": ci,
                "text": text,
                "logprobs": [],
            },
            _part(ci, text, "response.content_part.done"),
        ]
    events += [
        {"type": "response.output_item.done", "output_index": 1, "item": TWO_PARTS_DONE},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {**WEB_ITEM, "status": "in_progress"},
        },
        {"type": "response.web_search_call.in_progress", "item_id": "ws_1", "output_index": 2},
        {"type": "response.web_search_call.completed", "item_id": "ws_1", "output_index": 2},
        {"type": "response.output_item.done", "output_index": 2, "item": WEB_ITEM},
        {"type": "response.brand_new", "payload": [1, 2]},
    ]
    usage = {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12}
    status = "incomplete" if final_type == "response.incomplete" else "completed"
    final: dict[str, Any] = {
        **RESPONSE,
        "status": status,
        "output": [ENCRYPTED_DONE, TWO_PARTS_DONE, WEB_ITEM],
        "usage": usage,
    }
    if status == "incomplete":
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    frames = frames_of(*events, {"type": final_type, "response": final})
    return [*frames[:3], b": keep-alive\n\n", *frames[3:]]


RICH = b"".join(rich_stream())
VARIANTS["rich"] = RICH
RESPONSES_SHAPES = ["empty_reasoning", "incomplete", "rich", "usage"]
"""The `VARIANTS` only Responses has (test_codecs.py has the others' byte-exact round trip)."""


# --- decoding -----------------------------------------------------------------------------------


def test_decode_text_reasoning_and_tools() -> None:
    events = decode_events(API, FULL)
    assert isinstance(events[0], MessageStart)
    assert events[0].message_id.startswith("resp_")
    assert isinstance(events[1], Opaque)
    assert events[1].wire.type == "response.in_progress"
    completes = [e for e in events if isinstance(e, BlockComplete)]
    assert [c.index for c in completes] == [0, 1, 2, 3]
    thinking, text, first, second = (c.block for c in completes)
    assert (thinking.kind, thinking.text) == (BlockKind.THINKING, "Let me think.")
    assert (text.kind, text.text) == (BlockKind.TEXT, "Hello there, world.")
    assert first.tool_call == ToolCall(WEATHER.id, WEATHER.name, orjson.dumps(WEATHER.arguments).decode())
    assert second.tool_call is not None
    assert second.tool_call.parsed_arguments == TIME.arguments
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE
    assert end.usage is not None
    assert end.usage.input_tokens == 25
    text_start = next(e for e in events if isinstance(e, BlockStart) and e.kind is BlockKind.TEXT)
    assert text_start.origin is not None
    assert [w.type for w in text_start.origin.wire] == [
        "response.output_item.added",
        "response.content_part.added",
    ]
    text_complete = completes[1]
    assert text_complete.origin is not None
    assert [w.type for w in text_complete.origin.wire] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]


def test_decode_rich_stream() -> None:
    events = decode_events(API, RICH)
    starts = [e for e in events if isinstance(e, BlockStart)]
    assert [s.kind for s in starts] == [BlockKind.THINKING, BlockKind.TEXT, BlockKind.TEXT, BlockKind.OTHER]
    completes = [e.block for e in events if isinstance(e, BlockComplete)]
    assert completes[0].text == "AB"
    assert completes[0].signature == "gAAA-done"
    assert completes[0].data == ENCRYPTED_ITEM
    assert [b.text for b in completes[1:3]] == ["One.", "Two."]
    assert completes[3].data == WEB_ITEM
    data_deltas = [e.data["type"] for e in events if isinstance(e, BlockDelta) and e.data is not None]
    assert "response.future_event" in data_deltas
    assert "response.web_search_call.in_progress" in data_deltas
    assert "response.reasoning_summary_part.added" in data_deltas
    opaque = [e.wire.type for e in events if isinstance(e, Opaque)]
    assert opaque == ["response.in_progress", "comment", "response.brand_new"]
    first_part_done = next(e for e in events if isinstance(e, BlockComplete) and e.block.text == "One.")
    assert first_part_done.origin is not None
    assert [w.type for w in first_part_done.origin.wire] == [
        "response.output_text.done",
        "response.content_part.done",
    ]
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert (end.stop_reason, end.usage) == (StopReason.END_TURN, Usage(3, 9))


def test_decode_stop_reasons() -> None:
    (end,) = [e for e in decode_events(API, VARIANTS["incomplete"]) if isinstance(e, MessageEnd)]
    assert (end.stop_reason, end.provider_stop_reason) == (StopReason.MAX_TOKENS, "max_output_tokens")
    (end,) = [e for e in decode_events(API, VARIANTS["text"]) if isinstance(e, MessageEnd)]
    assert end.stop_reason is StopReason.END_TURN
    failed = frames_of(
        {"type": "response.created", "response": RESPONSE},
        {"type": "response.failed", "response": {**RESPONSE, "status": "failed", "output": []}},
    )
    (end,) = [e for e in decode_events(API, b"".join(failed)) if isinstance(e, MessageEnd)]
    assert (end.stop_reason, end.provider_stop_reason) == (StopReason.OTHER, "failed")


def test_decode_minimal_and_unusual_events() -> None:
    frames = frames_of(
        {"type": "response.created"},
        {"type": "response.output_text.delta", "delta": "x"},
        {"type": "response.output_item.added", "output_index": 0, "item": {"id": "m", "type": "message"}},
        {"type": "response.output_item.done", "output_index": 0, "item": {"id": "m", "type": "message"}},
        {"type": "error", "code": "server_error", "message": "boom"},
    )
    events = decode_events(API, b"".join([*frames, b"data: not json\n\n"]))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["MessageStart", "Opaque", "BlockStart", "BlockComplete", "Opaque", "Opaque"]
    empty = events[3]
    assert isinstance(empty, BlockComplete)
    assert empty.block.kind is BlockKind.OTHER


def test_decode_without_deltas_fills_values_from_done_events() -> None:
    item = {"id": "fc_1", "type": "function_call", "call_id": "c", "name": "f", "arguments": ""}
    frames = frames_of(
        {"type": "response.created", "response": RESPONSE},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {
            "type": "response.function_call_arguments.done",
            "output_index": 0,
            "item_id": "fc_1",
            "arguments": "{}",
        },
        {"type": "response.output_item.done", "output_index": 0, "item": {**item, "arguments": '{"a":1}'}},
    )
    events = decode_events(API, b"".join(frames))
    complete = next(e for e in events if isinstance(e, BlockComplete))
    assert complete.block.tool_call == ToolCall("c", "f", "{}")
    rs: dict[str, Any] = {"id": "rs_9", "type": "reasoning", "summary": []}
    frames = frames_of(
        {"type": "response.created", "response": RESPONSE},
        {"type": "response.output_item.added", "output_index": 0, "item": rs},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**rs, "summary": ENCRYPTED_DONE["summary"]},
        },
    )
    codec_events = decode_events(API, b"".join(frames))
    delta, complete = codec_events[-2:]
    assert isinstance(delta, BlockDelta)
    assert delta.origin is complete.origin
    assert isinstance(complete, BlockComplete)
    assert complete.block.text == "AB"


def test_decode_cut_stream_completes_held_part() -> None:
    frames = responses_stream("cut", text_chunks=1)
    cut = b"".join(frames[:-2])  # ends after content_part.done
    events = decode_events(API, cut)
    assert isinstance(events[-1], BlockComplete)
    assert events[-1].block.text == "cut"


# --- identity round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("name", RESPONSES_SHAPES)
def test_responses_shapes_are_byte_exact(name: str) -> None:
    """The shapes every API has are in test_codecs.py; here, those only Responses streams have."""
    upstream = VARIANTS[name]
    client, reports, _ = transcode(API, upstream)
    assert client == upstream
    assert reports == []


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_chunking_does_not_change_output(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(VARIANTS)))
    upstream = VARIANTS[name]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(upstream)), max_size=12)))
    chunks = [upstream[a:b] for a, b in zip([0, *cuts], [*cuts, len(upstream)], strict=True)]
    for policy in (identity, upper_text):
        assert transcode(API, upstream, policy, chunks)[:2] == transcode(API, upstream, policy)[:2]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(VARIANTS)), st.integers(0, 1000))
def test_dropping_any_block_keeps_stream_consistent(name: str, seed: int) -> None:
    upstream = VARIANTS[name]
    starts = [e.index for e in decode_events(API, upstream) if isinstance(e, BlockStart)]
    if not starts:
        return
    target = starts[seed % len(starts)]

    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart | BlockDelta | BlockComplete) and event.index == target:
            return []
        return [event]

    client = transcode(API, upstream, policy).out
    check_stream(client)


# --- changes: structure and the SDK -------------------------------------------------------------


def test_changed_text(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client, reports, _ = transcode(API, FULL, upper_text)
    assert reports == []
    final = check_stream(client)
    response = sdk_final(fake, oai, client)
    assert response.output_text == "HELLO THERE, WORLD."
    assert calls_of(response) == [
        (WEATHER.id, WEATHER.name, orjson.dumps(WEATHER.arguments).decode()),
        (TIME.id, TIME.name, orjson.dumps(TIME.arguments).decode()),
    ]
    assert final["usage"]["input_tokens"] == 25
    events = payloads(API, client)
    text_done = next(e for e in events if e["type"] == "response.output_text.done")
    assert text_done["text"] == "HELLO THERE, WORLD."
    upstream = {e["type"]: e for e in payloads(API, FULL)}
    # the item id and the unknown fields of the untouched events survive
    assert final["output"][1]["id"] == upstream["response.output_text.done"]["item_id"]
    assert final["output"][0] == upstream["response.completed"]["response"]["output"][0]
    # untouched frames went out as their exact bytes
    assert FULL.split(b"\n\n")[0] in client


def test_changed_text_policy_leaving_completion_is_repaired(fake: FakeProvider, oai: openai.OpenAI) -> None:
    def deltas_only(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockDelta) and event.kind is BlockKind.TEXT:
            return [dataclasses.replace(event, text="x")]
        return [event]

    client = transcode(API, VARIANTS["text"], deltas_only).out
    check_stream(client)
    assert sdk_final(fake, oai, client).output_text == "xxxxx"


def test_dropped_tool_calls(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client = transcode(API, FULL, dropping_tools()).out
    final = check_stream(client)
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    response = sdk_final(fake, oai, client)
    assert calls_of(response) == []
    assert response.output_text == "Hello there, world."
    assert response.usage is not None
    assert response.usage.input_tokens == 25


def test_blocked_tool_calls_become_text(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client = transcode(API, VARIANTS["tools"], blocking_tools()).out
    final = check_stream(client)
    assert [item["type"] for item in final["output"]] == ["message", "message"]
    assert all(item["id"].startswith("msg_") for item in final["output"])
    response = sdk_final(fake, oai, client)
    assert response.output_text == "blockedblocked"
    assert calls_of(response) == []
    assert response.status == "completed"


def test_appended_text_block(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client = transcode(API, FULL, appending(" (checked)")).out
    final = check_stream(client)
    assert [item["type"] for item in final["output"]] == [
        "reasoning",
        "message",
        "message",
        "function_call",
        "function_call",
    ]
    response = sdk_final(fake, oai, client)
    assert response.output_text == "Hello there, world. (checked)"
    assert len(calls_of(response)) == 2


def test_dropped_text_block(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client = transcode(API, FULL, dropping(BlockKind.TEXT)).out
    final = check_stream(client)
    assert [item["type"] for item in final["output"]] == ["reasoning", "function_call", "function_call"]
    assert [e["output_index"] for e in payloads(API, client) if e["type"].endswith("arguments.done")] == [
        1,
        2,
    ]
    response = sdk_final(fake, oai, client)
    assert response.output_text == ""
    assert len(calls_of(response)) == 2


def test_dropped_thinking_block(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client = transcode(API, RICH, dropping(BlockKind.THINKING)).out
    final = check_stream(client)
    assert [item["type"] for item in final["output"]] == ["message", "web_search_call"]
    events = payloads(API, client)
    assert not any("reasoning" in e["type"] for e in events)
    assert sdk_final(fake, oai, client).output_text == "One.Two."


def test_rich_stream_changes(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client = transcode(API, RICH, upper_text).out
    final = check_stream(client)
    message = final["output"][1]
    assert message["id"] == MSG_ID
    assert message["phase"] == "final_answer"
    assert [part["text"] for part in message["content"]] == ["ONE.", "TWO."]
    assert final["output"][0] == ENCRYPTED_DONE
    assert final["output"][2] == WEB_ITEM
    events = payloads(API, client)
    assert any(e["type"] == "response.future_event" and e["novel"] for e in events)
    assert any(e["type"] == "response.brand_new" for e in events)
    assert sdk_final(fake, oai, client).output_text == "ONE.TWO."


def test_dropping_first_part_of_a_message(fake: FakeProvider, oai: openai.OpenAI) -> None:
    def drop_one(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart | BlockDelta | BlockComplete) and event.index == 1:
            return []
        return [event]

    client = transcode(API, RICH, drop_one).out
    final = check_stream(client)
    message = final["output"][1]
    assert message["phase"] == "final_answer"
    assert [part["text"] for part in message["content"]] == ["Two."]
    parts = [e for e in payloads(API, client) if e["type"] == "response.content_part.added"]
    assert [e["content_index"] for e in parts] == [0]
    assert sdk_final(fake, oai, client).output_text == "Two."


def test_dropping_last_part_of_a_message(fake: FakeProvider, oai: openai.OpenAI) -> None:
    def drop_two(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart | BlockDelta | BlockComplete) and event.index == 2:
            return []
        return [event]

    client = transcode(API, RICH, drop_two).out
    final = check_stream(client)
    assert [part["text"] for part in final["output"][1]["content"]] == ["One."]
    assert final["output"][1]["status"] == "completed"
    assert sdk_final(fake, oai, client).output_text == "One."


def test_changed_thinking_keeps_encrypted_content(fake: FakeProvider, oai: openai.OpenAI) -> None:
    def rewrite(event: CallEvent) -> list[CallEvent]:
        plain = isinstance(event, BlockDelta) and event.data is None and event.signature is None
        if plain and isinstance(event, BlockDelta) and event.kind is BlockKind.THINKING:
            return [dataclasses.replace(event, text=event.text.lower())]
        if isinstance(event, BlockComplete) and event.block.kind is BlockKind.THINKING:
            return [dataclasses.replace(event, block=dataclasses.replace(event.block, text="ab"))]
        return [event]

    client = transcode(API, RICH, rewrite).out
    final = check_stream(client)
    reasoning = final["output"][0]
    assert reasoning["encrypted_content"] == "gAAA-done"
    assert [part["text"] for part in reasoning["summary"]] == ["a", "b"]
    response = sdk_final(fake, oai, client)
    (item,) = [i for i in response.output if isinstance(i, ResponseReasoningItem)]
    assert item.encrypted_content == "gAAA-done"


def test_whole_thinking_block_from_a_policy(fake: FakeProvider, oai: openai.OpenAI) -> None:
    def replace_thinking(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart | BlockDelta) and event.kind is BlockKind.THINKING:
            return []
        if isinstance(event, BlockComplete) and event.block.kind is BlockKind.THINKING:
            return [BlockComplete(500, Block(BlockKind.THINKING, text="new", signature="sig"))]
        return [event]

    client = transcode(API, FULL, replace_thinking).out
    final = check_stream(client)
    reasoning = final["output"][0]
    assert reasoning["id"].startswith("rs_")
    assert reasoning["summary"] == [{"type": "summary_text", "text": "new"}]
    assert reasoning["encrypted_content"] == "sig"
    assert sdk_final(fake, oai, client).output_text == "Hello there, world."


def test_tool_call_replaced_by_another(fake: FakeProvider, oai: openai.OpenAI) -> None:
    call = ToolCall("call_new", "other", '{"z": true}')
    policy = holding_tools(lambda c: [BlockComplete(c.index, Block(BlockKind.TOOL_CALL, tool_call=call))])
    client = transcode(API, VARIANTS["text_tools"], policy).out
    final = check_stream(client)
    assert final["output"][1]["id"].startswith("fc_")
    response = sdk_final(fake, oai, client)
    assert calls_of(response) == [("call_new", "other", '{"z": true}')]


def test_incomplete_stays_incomplete_with_changes(fake: FakeProvider, oai: openai.OpenAI) -> None:
    client = transcode(API, VARIANTS["incomplete"], upper_text).out
    final = check_stream(client)
    assert final["status"] == "incomplete"
    assert payloads(API, client)[-1]["type"] == "response.incomplete"
    fake.enqueue(StreamReply([client]))
    events = list(oai.responses.create(model="gpt-5", input="hi", stream=True))
    assert events[-1].type == "response.incomplete"


def test_sequence_numbers_follow_a_non_zero_start() -> None:
    frames = [
        sse_frame(None, {**orjson.loads(f.split(b"data: ")[1]), "sequence_number": n + 5})
        for n, f in enumerate(responses_stream("abc"))
    ]
    upstream = b"".join(frames)
    assert transcode(API, upstream).out == upstream
    client = transcode(API, upstream, appending("!")).out
    numbers = [e["sequence_number"] for e in payloads(API, client)]
    assert numbers == list(range(5, 5 + len(numbers)))


def test_message_start_rebuilt_from_a_policy() -> None:
    def rename(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, MessageStart):
            return [dataclasses.replace(event, model="other-model")]
        return [event]

    client = transcode(API, VARIANTS["text"], rename).out
    first = payloads(API, client)[0]
    assert first["response"]["model"] == "other-model"
    assert first["sequence_number"] == 0
    assert client.split(b"\n\n")[1:] == VARIANTS["text"].split(b"\n\n")[1:]


def test_policy_made_end_and_opaque() -> None:
    def rebuild(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, MessageEnd):
            opaque = Opaque(WireEvent("response.note", {"type": "response.note"}, "response.note"))
            return [opaque, MessageEnd(StopReason.MAX_TOKENS, usage=Usage(1, 2))]
        return [event]

    client = transcode(API, VARIANTS["text"], rebuild).out
    events = payloads(API, client)
    assert events[-2]["type"] == "response.note"
    final = events[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    check_stream(client)


# --- non-streaming bodies -----------------------------------------------------------------------

BODY = response_object("Done.", reasoning="Because.", tool_calls=[WEATHER, TIME])


def test_body_decode() -> None:
    codec = OpenAIResponsesCodec()
    events = codec.decode_body(response_event(orjson.dumps(BODY), BODY))
    blocks = [e.block for e in events if isinstance(e, BlockComplete)]
    assert [b.kind for b in blocks] == [
        BlockKind.THINKING,
        BlockKind.TEXT,
        BlockKind.TOOL_CALL,
        BlockKind.TOOL_CALL,
    ]
    assert blocks[0].text == "Because."
    assert blocks[1].text == "Done."
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE


def test_body_changed_text(fake: FakeProvider, oai: openai.OpenAI) -> None:
    _, encoded = transcode_body(API, BODY, upper_text)
    assert encoded.type == RESPONSE_BODY
    assert encoded.data["output"][0] == BODY["output"][0]
    assert encoded.data["output"][1]["id"] == BODY["output"][1]["id"]
    response = sdk_body(fake, oai, encoded.data)
    assert response.output_text == "DONE."
    assert len(calls_of(response)) == 2


def test_body_dropped_and_blocked_tools(fake: FakeProvider, oai: openai.OpenAI) -> None:
    _, encoded = transcode_body(API, BODY, dropping_tools())
    assert [item["type"] for item in encoded.data["output"]] == ["reasoning", "message"]
    assert calls_of(sdk_body(fake, oai, encoded.data)) == []
    _, encoded = transcode_body(API, BODY, blocking_tools())
    response = sdk_body(fake, oai, encoded.data)
    assert response.output_text == "Done.blockedblocked"
    assert calls_of(response) == []


def test_body_appended_and_dropped_text(fake: FakeProvider, oai: openai.OpenAI) -> None:
    _, encoded = transcode_body(API, BODY, appending("!"))
    assert sdk_body(fake, oai, encoded.data).output_text == "Done.!"
    _, encoded = transcode_body(API, BODY, dropping(BlockKind.TEXT))
    assert [item["type"] for item in encoded.data["output"]] == [
        "reasoning",
        "function_call",
        "function_call",
    ]
    assert sdk_body(fake, oai, encoded.data).output_text == ""


def test_body_multi_part_message_and_other_items(fake: FakeProvider, oai: openai.OpenAI) -> None:
    refusal = {"type": "refusal", "refusal": "no"}
    message: dict[str, Any] = {**TWO_PARTS_DONE, "content": [*TWO_PARTS_DONE["content"], refusal]}
    empty: dict[str, Any] = {
        "id": "msg_e",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [],
    }
    body: dict[str, Any] = {
        **RESPONSE,
        "status": "completed",
        "output": [ENCRYPTED_DONE, message, empty, WEB_ITEM],
        "usage": None,
    }
    original, encoded = transcode_body(API, body)
    assert encoded is original
    _, encoded = transcode_body(API, body, upper_text)
    output = encoded.data["output"]
    assert output[0] == ENCRYPTED_DONE
    assert [part.get("text") for part in output[1]["content"]] == ["ONE.", "TWO.", None]
    assert output[1]["content"][2] == refusal
    assert output[1]["phase"] == "final_answer"
    assert output[2:] == [empty, WEB_ITEM]
    assert sdk_body(fake, oai, encoded.data).output_text == "ONE.TWO."


def test_body_incomplete_stop_reason() -> None:
    body = response_object("Trunc", status="incomplete")
    _, encoded = transcode_body(API, body, appending("+"))
    assert encoded.data["status"] == "incomplete"
    assert encoded.data["incomplete_details"] == {"reason": "max_output_tokens"}


# --- more edge cases ----------------------------------------------------------------------------


def _with_final(events: list[dict[str, Any]], output: list[dict[str, Any]]) -> bytes:
    final = {**RESPONSE, "status": "completed", "output": output, "usage": {"input_tokens": 1}}
    return b"".join(
        frames_of(
            {"type": "response.created", "response": RESPONSE},
            *events,
            {"type": "response.completed", "response": final},
        )
    )


FC_ITEM: dict[str, Any] = {
    "id": "fc_9",
    "type": "function_call",
    "status": "completed",
    "call_id": "c9",
    "name": "f",
    "arguments": '{"q": 1}',
}
TEXT_ITEM: dict[str, Any] = {
    "id": "msg_9",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "annotations": [], "text": "after"}],
}
REFUSAL_ITEM: dict[str, Any] = {
    "id": "msg_r",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "refusal", "refusal": "I can't."}],
}
CUSTOM_ITEM: dict[str, Any] = {
    "id": "ctc_1",
    "type": "custom_tool_call",
    "status": "completed",
    "call_id": "cc",
    "name": "apply_patch",
    "input": "*** patch",
}


def _text_item_events(oi: int, item: dict[str, Any], comment_gap: bool = False) -> list[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": oi, "content_index": 0}
    part = item["content"][0]
    return [
        {"type": "response.output_item.added", "output_index": oi, "item": {**item, "content": []}},
        {"type": "response.content_part.added", **at, "part": {**part, "text": ""}},
        {"type": "response.output_text.delta", **at, "delta": part["text"]},
        {"type": "response.output_text.done", **at, "text": part["text"]},
        {"type": "response.content_part.done", **at, "part": part},
        {"type": "response.output_item.done", "output_index": oi, "item": item},
    ]


FC_FIRST = _with_final(
    [
        {"type": "response.output_item.added", "output_index": 0, "item": {**FC_ITEM, "arguments": ""}},
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_9",
            "output_index": 0,
            "delta": '{"q"',
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_9",
            "output_index": 0,
            "delta": ": 1}",
        },
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_9",
            "output_index": 0,
            "arguments": '{"q": 1}',
        },
        {"type": "response.output_item.done", "output_index": 0, "item": FC_ITEM},
        *_text_item_events(1, TEXT_ITEM),
    ],
    [FC_ITEM, TEXT_ITEM],
)
REFUSAL = _with_final(
    [
        {"type": "response.output_item.added", "output_index": 0, "item": {**REFUSAL_ITEM, "content": []}},
        {
            "type": "response.content_part.added",
            "item_id": "msg_r",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "refusal", "refusal": ""},
        },
        {
            "type": "response.refusal.delta",
            "item_id": "msg_r",
            "output_index": 0,
            "content_index": 0,
            "delta": "I can't.",
        },
        {
            "type": "response.refusal.done",
            "item_id": "msg_r",
            "output_index": 0,
            "content_index": 0,
            "refusal": "I can't.",
        },
        {
            "type": "response.content_part.done",
            "item_id": "msg_r",
            "output_index": 0,
            "content_index": 0,
            "part": REFUSAL_ITEM["content"][0],
        },
        {"type": "response.output_item.done", "output_index": 0, "item": REFUSAL_ITEM},
    ],
    [REFUSAL_ITEM],
)
CUSTOM = _with_final(  # a custom tool call is a tool call: after the text, it passes byte for byte
    [
        *_text_item_events(0, TEXT_ITEM),
        {"type": "response.output_item.added", "output_index": 1, "item": {**CUSTOM_ITEM, "input": ""}},
        {
            "type": "response.custom_tool_call_input.delta",
            "item_id": "ctc_1",
            "output_index": 1,
            "delta": "*** patch",
        },
        {
            "type": "response.custom_tool_call_input.done",
            "item_id": "ctc_1",
            "output_index": 1,
            "input": "*** patch",
        },
        {"type": "response.output_item.done", "output_index": 1, "item": CUSTOM_ITEM},
    ],
    [TEXT_ITEM, CUSTOM_ITEM],
)
_GAP = _text_item_events(0, TEXT_ITEM)
KEEPALIVE_GAP = _with_final(_GAP, [TEXT_ITEM]).replace(
    b"event: response.output_item.done", b": ping\n\nevent: response.output_item.done"
)
EDGE = {"fc_first": FC_FIRST, "refusal": REFUSAL, "custom": CUSTOM, "keepalive_gap": KEEPALIVE_GAP}


@pytest.mark.parametrize("name", sorted(set(EDGE) - {"fc_first"}))
def test_edge_streams_identity(name: str) -> None:
    assert transcode(API, EDGE[name])[:2] == (EDGE[name], [])


def test_tool_call_before_text_is_moved_last() -> None:
    client, _, _ = transcode(API, FC_FIRST)  # the repairer sends tool calls after every other block
    final = check_stream(client)
    assert [item["id"] for item in final["output"]] == ["msg_9", "fc_9"]
    response = sdk_offline(client)
    assert response.output_text == "after"
    assert calls_of(response) == [("c9", "f", '{"q": 1}')]


def test_refusal_part() -> None:
    events = decode_events(API, REFUSAL)
    (complete,) = [e for e in events if isinstance(e, BlockComplete)]
    assert complete.block == Block(BlockKind.OTHER, data=REFUSAL_ITEM["content"][0])
    client = transcode(API, REFUSAL, appending("Sorry.")).out
    final = check_stream(client)
    assert final["output"][0] == REFUSAL_ITEM
    assert sdk_offline(client).output_text == "Sorry."


def rewriting_calls(arguments: Callable[[ToolCall], str]) -> EventPolicy:
    """Replaces every tool call by a whole one with `arguments(call)` (as a judge-like policy would)."""
    calls: set[int] = set()

    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart) and event.kind is BlockKind.TOOL_CALL:
            calls.add(event.index)
        if isinstance(event, BlockComplete) and event.index in calls and event.block.tool_call:
            call = event.block.tool_call
            block = dataclasses.replace(
                event.block, tool_call=dataclasses.replace(call, arguments=arguments(call))
            )
            return [BlockComplete(event.index, block)]
        if isinstance(event, BlockStart | BlockDelta) and event.index in calls:
            return []
        return [event]

    return policy


def test_custom_tool_call_is_a_tool_call() -> None:
    events = decode_events(API, CUSTOM)
    starts = [e for e in events if isinstance(e, BlockStart)]
    assert [s.kind for s in starts] == [BlockKind.TEXT, BlockKind.TOOL_CALL]
    (call,) = [e.block.tool_call for e in events if isinstance(e, BlockComplete) and e.block.tool_call]
    assert call == ToolCall("cc", "apply_patch", '{"input":"*** patch"}')
    end = next(e for e in events if isinstance(e, MessageEnd))
    assert end.stop_reason is StopReason.TOOL_USE
    client = transcode(API, CUSTOM, upper_text).out
    final = check_stream(client)
    assert final["output"][1] == CUSTOM_ITEM
    assert any(e["type"] == "response.custom_tool_call_input.delta" for e in payloads(API, client))
    client = transcode(API, CUSTOM, dropping(BlockKind.TOOL_CALL)).out
    final = check_stream(client)
    assert [item["type"] for item in final["output"]] == ["message"]
    assert not any("custom_tool_call" in e["type"] for e in payloads(API, client))


def test_changed_custom_tool_call_is_written_as_one() -> None:
    client = transcode(API, CUSTOM, rewriting_calls(lambda _: '{"input": "*** safer"}')).out
    final = check_stream(client)
    assert {k: final["output"][1][k] for k in ("type", "call_id", "name", "input")} == {
        "type": "custom_tool_call",
        "call_id": "cc",
        "name": "apply_patch",
        "input": "*** safer",
    }
    sent = payloads(API, client)
    deltas = [e["delta"] for e in sent if e["type"] == "response.custom_tool_call_input.delta"]
    assert deltas == ["*** safer"]
    (done,) = [e for e in sent if e["type"] == "response.custom_tool_call_input.done"]
    assert done["input"] == "*** safer"
    assert sdk_offline(client).output[1].input == "*** safer"


SHELL_ITEM: dict[str, Any] = {
    "id": "lsh_1",
    "type": "local_shell_call",
    "status": "completed",
    "call_id": "ls",
    "action": {"type": "exec", "command": ["rm", "-rf", "/"], "env": {}, "working_directory": "/tmp"},
}
SHELL = _with_final(
    [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**SHELL_ITEM, "status": "in_progress"},
        },
        {"type": "response.output_item.done", "output_index": 0, "item": SHELL_ITEM},
    ],
    [SHELL_ITEM],
)


def test_local_shell_call_is_a_tool_call() -> None:
    events = decode_events(API, SHELL)
    (call,) = [e.block.tool_call for e in events if isinstance(e, BlockComplete) and e.block.tool_call]
    assert (call.id, call.name) == ("ls", "local_shell")
    assert call.parsed_arguments == {
        "command": "rm -rf /",
        "argv": ["rm", "-rf", "/"],
        "type": "exec",
        "env": {},
        "working_directory": "/tmp",
    }
    assert transcode(API, SHELL)[:2] == (SHELL, [])
    client = transcode(API, SHELL, rewriting_calls(lambda _: '{"command": "ls -la \'my dir\'"}')).out
    final = check_stream(client)
    item = final["output"][0]
    assert (item["type"], item["call_id"]) == ("local_shell_call", "ls")
    assert item["action"] == {**SHELL_ITEM["action"], "command": ["ls", "-la", "my dir"]}
    assert sdk_offline(client).output[0].action.command == ["ls", "-la", "my dir"]


@pytest.mark.parametrize(
    ("item", "name", "arguments"),
    [
        (
            {"type": "shell_call", "call_id": "s", "action": {"commands": ["ls", "pwd"], "timeout_ms": 5}},
            "shell",
            {"command": "ls; pwd", "commands": ["ls", "pwd"], "timeout_ms": 5},
        ),
        (
            {"type": "apply_patch_call", "call_id": "p", "operation": {"type": "delete_file", "path": "a"}},
            "apply_patch",
            {"operation": {"type": "delete_file", "path": "a"}},
        ),
        (
            {"type": "mcp_approval_request", "id": "mcpr_1", "name": "deploy", "arguments": '{"env":"prod"}'},
            "deploy",
            {"env": "prod"},
        ),
    ],
)
def test_tool_like_items_in_bodies(item: dict[str, Any], name: str, arguments: dict[str, Any]) -> None:
    item = {"id": "it_1", "status": "completed", **item}
    body = {**RESPONSE, "status": "completed", "output": [item]}
    events = OpenAIResponsesCodec().decode_body(WireEvent(RESPONSE_BODY, body))
    (call,) = [e.block.tool_call for e in events if isinstance(e, BlockComplete) and e.block.tool_call]
    assert call.name == name
    assert call.parsed_arguments == arguments
    assert [e.stop_reason for e in events if isinstance(e, MessageEnd)] == [StopReason.TOOL_USE]
    # A policy that rewrote the call with the same arguments: rebuilt in the item's own shape.
    _, out = transcode_body(API, body, rewriting_calls(lambda call: call.arguments))
    assert cast(dict[str, Any], out.data)["output"] == [item]


@pytest.mark.parametrize("item_type", ["hologram_call", None])
def test_unknown_items_are_refused(item_type: str | None) -> None:
    item = {"id": "h_1", "type": item_type, "status": "in_progress"}
    stream = _with_final(
        [
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
        ],
        [item],
    )
    with pytest.raises(UnreadableOutput):
        decode_events(API, stream)
    with pytest.raises(UnreadableOutput):
        OpenAIResponsesCodec().decode_body(WireEvent(RESPONSE_BODY, {**RESPONSE, "output": [item]}))


def test_tool_call_never_announced_is_refused() -> None:
    stream = _with_final(
        [{"type": "response.output_item.done", "output_index": 0, "item": SHELL_ITEM}], [SHELL_ITEM]
    )
    with pytest.raises(UnreadableOutput):
        decode_events(API, stream)


def test_keepalive_between_part_and_item_end() -> None:
    client = transcode(API, KEEPALIVE_GAP, upper_text).out
    assert b": ping" in client
    final = check_stream(client)
    assert final["output"][0]["content"][0]["text"] == "AFTER"
    assert sdk_offline(client).output_text == "AFTER"
    client = transcode(API, KEEPALIVE_GAP, dropping(BlockKind.TEXT)).out
    assert check_stream(client)["output"] == []


def test_split_and_dropped_deltas_renumber_sequence() -> None:
    def split(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockDelta) and event.kind is BlockKind.TOOL_CALL and len(event.text) > 1:
            return [
                dataclasses.replace(event, text=event.text[:1]),
                dataclasses.replace(event, text=event.text[1:]),
            ]
        if isinstance(event, BlockDelta) and event.kind is BlockKind.TEXT:
            return []
        return [event]

    client = transcode(API, FULL, split).out
    check_stream(client)
    response = sdk_offline(client)
    assert response.output_text == ""
    assert [orjson.loads(c[2]) for c in calls_of(response)] == [WEATHER.arguments, TIME.arguments]


def _random_policy(data: st.DataObject) -> EventPolicy:
    choices = ["keep", "drop", "upper", "block", "append", "insert", "split"]
    actions = data.draw(st.lists(st.sampled_from(choices), max_size=8))
    decided: dict[int, str] = {}

    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, MessageEnd):
            extra = [BlockComplete(900, text_block("+"))] if "append" in actions else []
            return [*extra, event]
        if not isinstance(event, BlockStart | BlockDelta | BlockComplete):
            return [event]
        action = decided.setdefault(
            event.index, actions[len(decided)] if len(decided) < len(actions) else "keep"
        )
        if action == "drop":
            return []
        if action == "block":
            return (
                [BlockComplete(event.index, text_block("blocked"))]
                if isinstance(event, BlockComplete)
                else []
            )
        if action == "upper":
            return upper_text(event)
        if action == "insert" and isinstance(event, BlockStart):
            return [BlockComplete(2000 + event.index, text_block("ins")), event]
        if action == "split" and isinstance(event, BlockDelta) and len(event.text) > 1:
            return [
                dataclasses.replace(event, text=event.text[:1]),
                dataclasses.replace(event, text=event.text[1:]),
            ]
        return [event]

    return policy


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_policies_give_streams_the_sdk_accepts(data: st.DataObject) -> None:
    upstream = data.draw(st.sampled_from([*VARIANTS.values(), *EDGE.values()]))
    client = transcode(API, upstream, _random_policy(data)).out
    final = check_stream(client)
    response = sdk_offline(client)
    texts = [
        part["text"]
        for item in final["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    ]
    assert response.output_text == "".join(texts)


RICH_BODY: dict[str, Any] = {
    **RESPONSE,
    "status": "completed",
    "output": [ENCRYPTED_DONE, TWO_PARTS_DONE, REFUSAL_ITEM, WEB_ITEM, FC_ITEM],
    "usage": {"input_tokens": 1, "output_tokens": 2},
}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_policies_give_bodies_the_sdk_accepts(data: st.DataObject) -> None:
    body = data.draw(st.sampled_from([BODY, RICH_BODY, response_object("x", status="incomplete")]))
    original, encoded = transcode_body(API, body, _random_policy(data))
    output = encoded.data["output"]
    assert len({item["id"] for item in output}) == len(output)
    response = cast(Response, construct_type(type_=Response, value=encoded.data))
    texts = [
        part["text"]
        for item in output
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    ]
    assert response.output_text == "".join(texts)
    assert encoded.data["status"] == original.data["status"]
