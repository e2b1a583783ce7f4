"""The OpenAI Chat Completions codec: decoding, encoding, byte-exact round trips, and SDK acceptance."""

from __future__ import annotations

import dataclasses
from typing import Any

import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_chat.codec import TEXT_BLOCK_SEPARATOR, OpenAIChatCodec, finish_reason, stop_reason
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
    text_block,
)
from luthien.wire.apis import response_event
from luthien.wire.events import DONE, WireEvent
from luthien.wire.sse import SSEParser
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    chat_completion,
    chat_stream,
    sse_frame,
)
from tests.fake_provider import ToolCall as FakeCall
from tests.support.codec_streams import transcode, transcode_body
from tests.support.event_policies import Rewrite

API = OPENAI_CHAT
USER: Any = [{"role": "user", "content": "hi"}]
CHUNK = "chat.completion.chunk"
WEATHER = FakeCall("call_W", "get_weather", {"city": "Paris", "units": "metric", "days": [1, 2, 3]})
TIME = FakeCall("call_T", "get_time", {"timezone": "Europe/Paris"})
SEARCH = FakeCall("call_S", "search", {"q": "chat completions"})


# --- stream builders for shapes the fake provider's builder does not make -------------------------


def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
    """One chunk frame of a stream with a fixed id, as the API sends it (choice 0 unless `choices`)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-X",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "deepseek-reasoner",
        "system_fingerprint": "fp_1",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    body.update(extra)
    return sse_frame(None, body)


DONE_FRAME = b"data: [DONE]\n\n"
USAGE_FRAME = chunk(None, usage={"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30})


def reasoning_stream(key: str = "reasoning_content") -> list[bytes]:
    """A DeepSeek/vLLM-style stream: reasoning pieces, then content, with a usage chunk."""
    return [
        chunk({"role": "assistant", "content": None, key: ""}),
        chunk({"content": None, key: "Let me "}),
        chunk({"content": None, key: "think."}),
        chunk({"content": "The answer", key: None}),
        chunk({"content": " is 4."}),
        chunk({"content": ""}, "stop"),
        USAGE_FRAME,
        DONE_FRAME,
    ]


# --- the harness: upstream bytes -> decode -> policy -> repair -> encode -> client bytes ----------


def payloads(data: bytes) -> list[Any]:
    """The JSON payloads of an encoded stream (`[DONE]` as the string)."""
    frames = SSEParser().feed(data)
    return [frame.data if frame.data == "[DONE]" else orjson.loads(frame.data or "null") for frame in frames]


def tool_indices(data: bytes) -> list[int]:
    return [
        call.get("index", -1)
        for payload in payloads(data)
        if isinstance(payload, dict)
        for choice in payload.get("choices", [])
        for call in choice["delta"].get("tool_calls", [])
    ]


# --- fixtures --------------------------------------------------------------------------------------


def sdk_stream(fake: FakeProvider, client: openai.OpenAI, data: bytes) -> Any:
    """Let the SDK's streaming helper parse `data`; return the final completion."""
    fake.enqueue(StreamReply([data]))
    with client.chat.completions.stream(model="gpt-5", messages=USER) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion()


def sdk_body(fake: FakeProvider, client: openai.OpenAI, body: Any) -> Any:
    fake.enqueue(JSONReply(body))
    return client.chat.completions.create(model="gpt-5", messages=USER)


def calls_of(completion: Any) -> list[tuple[str, str, Any]]:
    calls = completion.choices[0].message.tool_calls or []
    return [(c.id, c.function.name, orjson.loads(c.function.arguments)) for c in calls]


# --- decoding --------------------------------------------------------------------------------------


def test_decode_text_stream() -> None:
    frames = chat_stream("Hello there", text_chunks=3, completion_id="chatcmpl-1", model="gpt-5")
    events = transcode(API, frames).decoded
    kinds = [type(event).__name__ for event in events]
    assert kinds == [
        "MessageStart",
        "BlockStart",
        "BlockDelta",
        "BlockDelta",
        "BlockDelta",
        "BlockComplete",
        "MessageEnd",
    ]
    start = events[0]
    assert isinstance(start, MessageStart)
    assert (start.message_id, start.model) == ("chatcmpl-1", "gpt-5")
    # The first content chunk decodes into a start and a delta sharing one origin.
    assert events[1].origin is events[2].origin
    assert events[1].origin is not None
    assert events[1].origin.parts == 2
    complete, end = events[-2], events[-1]
    assert isinstance(complete, BlockComplete)
    assert complete.block == Block(BlockKind.TEXT, text="Hello there", data={"type": "content"})
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.END_TURN
    assert end.provider_stop_reason == "stop"
    assert end.usage is not None
    assert end.usage.input_tokens == 25
    # The end covers the finish chunk, the usage chunk and [DONE]; the completion of a block that
    # earlier chunks carried has no wire form.
    assert end.origin is not None
    assert [wire.type for wire in end.origin.wire] == ["chat.completion.chunk", "chat.completion.chunk", DONE]
    assert end.origin.parts == 1
    assert complete.origin == Origin(())


def test_decode_parallel_tool_calls() -> None:
    frames = chat_stream("Checking.", tool_calls=[WEATHER, TIME], json_chunks=4)
    events = transcode(API, frames).decoded
    completes = [event for event in events if isinstance(event, BlockComplete)]
    assert [c.block.kind for c in completes] == [BlockKind.TEXT, BlockKind.TOOL_CALL, BlockKind.TOOL_CALL]
    calls = [c.block.tool_call for c in completes[1:]]
    assert calls == [
        ToolCall("call_W", "get_weather", orjson.dumps(WEATHER.arguments).decode()),
        ToolCall("call_T", "get_time", orjson.dumps(TIME.arguments).decode()),
    ]
    starts = [event for event in events if isinstance(event, BlockStart)]
    assert [s.index for s in starts] == [0, 1, 2]
    assert starts[1].tool_call == ToolCall("call_W", "get_weather", "")
    # The chunk that starts the second call completes the first one (which has no wire form).
    second = starts[2]
    assert second.origin is not None
    assert second.origin.parts == 1
    assert completes[1].origin == Origin(())
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE


def test_decode_reasoning_variants() -> None:
    for key in ("reasoning_content", "reasoning"):
        events = transcode(API, reasoning_stream(key)).decoded
        completes = [event.block for event in events if isinstance(event, BlockComplete)]
        assert completes == [
            Block(BlockKind.THINKING, text="Let me think."),
            Block(BlockKind.TEXT, text="The answer is 4.", data={"type": "content"}),
        ]
        # The chunk switching from reasoning to content completes the thinking block.
        switch = next(
            i for i, e in enumerate(events) if isinstance(e, BlockStart) and e.kind is BlockKind.TEXT
        )
        assert isinstance(events[switch - 1], BlockComplete)
        assert events[switch].origin is events[switch + 1].origin
        assert events[switch].origin is not None
        assert events[switch].origin.parts == 2


def test_decode_refusal_is_other_block() -> None:
    frames = [
        chunk({"role": "assistant", "content": None, "refusal": ""}),
        chunk({"refusal": "I can't "}),
        chunk({"refusal": "help with that."}),
        chunk({}, "stop"),
        DONE_FRAME,
    ]
    events = transcode(API, frames).decoded
    (complete,) = [event for event in events if isinstance(event, BlockComplete)]
    assert complete.block == Block(BlockKind.OTHER, text="I can't help with that.", data={"type": "refusal"})


def test_decode_opaque_events() -> None:
    frames = [
        b": keep-alive\n\n",
        chunk(None, object="", prompt_filter_results=[]),  # Azure's content-filter preamble
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "x"}),
        chunk({}),  # nothing to interpret
        b"data: not json\n\n",
        chunk({}, "stop"),
        DONE_FRAME,
    ]
    events = transcode(API, frames).decoded
    opaque = [event for event in events if isinstance(event, Opaque)]
    # A payload with `choices` is a chunk whatever its `object` says (clients read it as one).
    assert [event.wire.type for event in opaque] == ["comment", CHUNK, CHUNK, "unparsed"]


def test_decode_stop_reasons() -> None:
    assert stop_reason("stop") is StopReason.END_TURN
    assert stop_reason("tool_calls") is StopReason.TOOL_USE
    assert stop_reason("length") is StopReason.MAX_TOKENS
    assert stop_reason("content_filter") is StopReason.REFUSAL
    assert stop_reason("function_call") is StopReason.OTHER
    assert stop_reason(None) is StopReason.END_TURN
    assert finish_reason(MessageEnd(StopReason.OTHER, "function_call")) == "function_call"
    assert finish_reason(MessageEnd(StopReason.OTHER)) == "stop"
    assert finish_reason(MessageEnd(StopReason.STOP_SEQUENCE)) == "stop"
    assert finish_reason(MessageEnd(StopReason.REFUSAL)) == "content_filter"
    assert finish_reason(MessageEnd(StopReason.MAX_TOKENS)) == "length"
    frames = chat_stream("cut", finish_reason="length")
    end = transcode(API, frames).decoded[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.MAX_TOKENS


def test_decode_without_done_ends_at_finish() -> None:
    events = transcode(API, chat_stream("Hi", done=False)).decoded
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert end.origin is not None
    assert [wire.type for wire in end.origin.wire] == ["chat.completion.chunk"] * 2


def test_decode_cut_stream_has_no_end() -> None:
    events = transcode(API, chat_stream("Never finished")[:3], ended=False).decoded
    assert not any(isinstance(event, MessageEnd | BlockComplete) for event in events)


def test_decode_error_then_done_is_opaque() -> None:
    frames = [*chat_stream("Hello")[:2], sse_frame(None, {"error": {"message": "boom"}}), DONE_FRAME]
    events = transcode(API, frames, ended=False).decoded
    assert [type(e).__name__ for e in events[-2:]] == ["Opaque", "Opaque"]


def test_decode_whole_tool_calls_in_one_chunk() -> None:
    """Ollama/Gemini style: complete calls, several in one chunk, no role chunk."""
    entries = [
        {
            "index": i,
            "id": c.id,
            "type": "function",
            "function": {"name": c.name, "arguments": orjson.dumps(c.arguments).decode()},
        }
        for i, c in enumerate([WEATHER, TIME])
    ]
    frames = [chunk({"role": "assistant", "tool_calls": entries}), chunk({}, "tool_calls"), DONE_FRAME]
    events = transcode(API, frames).decoded
    assert [type(e).__name__ for e in events] == [
        "MessageStart",
        "BlockStart",
        "BlockDelta",
        "BlockStart",
        "BlockDelta",
        "BlockComplete",
        "BlockComplete",
        "MessageEnd",
    ]
    assert events[0].origin is events[4].origin


# --- encoding: identity is byte-exact --------------------------------------------------------------


IDENTITY_CASES = {
    "text": chat_stream("Hello there, world!", text_chunks=5),
    "text_no_usage": chat_stream("Hello", include_usage=False),
    "tool_split": chat_stream("", tool_calls=[WEATHER], json_chunks=20),
    "parallel_tools": chat_stream("Let me check.", tool_calls=[WEATHER, TIME, SEARCH], json_chunks=6),
    "bad_json": chat_stream("", tool_calls=[FakeCall("call_1", "f", '{"a": [1, 2')]),
    "no_done": chat_stream("Hi", done=False),
    "length": chat_stream("Hi", finish_reason="length"),
    "reasoning_content": reasoning_stream(),
    "reasoning": reasoning_stream("reasoning"),
    "keepalive_and_unknown": [
        b": keep-alive\n\n",
        *chat_stream("Hi", tool_calls=[TIME])[:3],
        b": ping\n\n",
        sse_frame(None, {"object": "future.event", "x": 1}),
        b"data: not json\n\n",
        *chat_stream("Hi", tool_calls=[TIME])[3:-1],
        b": ping\n\n",
        DONE_FRAME,
    ],
    "content_in_first_and_finish_chunks": [
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({"content": " there"}),
        chunk(
            {"content": "!"}, "stop", usage={"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}
        ),
        DONE_FRAME,
    ],
    "comments_between_all_frames": [
        part for frame in reasoning_stream() for part in (frame, b": keep-alive\n\n")
    ],
    "crlf": [frame.replace(b"\n", b"\r\n") for frame in chat_stream("Hi")],
}


@pytest.mark.parametrize("frames", IDENTITY_CASES.values(), ids=IDENTITY_CASES.keys())
def test_identity_is_byte_exact(frames: list[bytes]) -> None:
    run = transcode(API, frames)
    assert run.out == b"".join(frames)
    assert run.reports == []


def test_comments_while_tool_calls_stream_keep_their_place() -> None:
    """The repairer holds tool calls to the end, and comments that arrive among them with them."""
    frames = chat_stream("Let me check.", tool_calls=[WEATHER, TIME], json_chunks=3)
    comment = b": keep-alive\n\n"
    with_comments = [part for frame in frames for part in (frame, comment)]

    out = transcode(API, with_comments).out

    assert out == b"".join(with_comments)


# --- encoding: changed streams are valid and the SDK accepts them ----------------------------------


def sdk_final(data: bytes) -> Any:
    """The SDK's own stream accumulator (what `stream.get_final_completion()` uses), run offline."""
    frames = SSEParser().feed(data)
    assert frames[-1].data == "[DONE]"
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for frame in frames[:-1]:
        if frame.data is not None:
            state.handle_chunk(ChatCompletionChunk.model_validate(orjson.loads(frame.data)))
    return state.get_final_completion()


CALLS = [WEATHER, TIME, SEARCH]
VERDICTS = st.sampled_from(["pass", "block", "drop"])


@settings(max_examples=150, deadline=None)
@given(
    text=st.sampled_from(["", "Hello, world.", "x"]),
    calls=st.integers(min_value=0, max_value=3),
    verdicts=st.lists(VERDICTS, min_size=3, max_size=3),
    upper=st.booleans(),
    drop_text=st.booleans(),
    append=st.sampled_from([None, " [note]"]),
    json_chunks=st.integers(min_value=1, max_value=8),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_any_policy_output_is_accepted_by_the_sdk(
    text: str,
    calls: int,
    verdicts: list[str],
    upper: bool,
    drop_text: bool,
    append: str | None,
    json_chunks: int,
    cuts: list[int],
) -> None:
    frames = chat_stream(text, tool_calls=CALLS[:calls], json_chunks=json_chunks)
    data = b"".join(frames)
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    verdict = {call.name: v for call, v in zip(CALLS, verdicts, strict=True)}
    policy = Rewrite(
        text=str.upper if upper else None,
        tools=lambda call: verdict[call.name],
        drop_text=drop_text,
        append=append,
    )
    completion = sdk_final(transcode(API, frames, policy, pieces=pieces).out)
    kept = [c for c in CALLS[:calls] if verdict[c.name] == "pass"]
    texts = [] if drop_text else [text.upper() if upper else text]
    texts += [f"blocked {c.name}" for c in CALLS[:calls] if verdict[c.name] == "block"]
    texts += [append] if append else []
    expected = TEXT_BLOCK_SEPARATOR.join(t for t in texts if t)
    choice = completion.choices[0]
    assert (choice.message.content or "") == expected
    assert calls_of(completion) == [(c.id, c.name, c.arguments) for c in kept]
    assert choice.finish_reason == ("tool_calls" if kept else "stop")
    assert completion.usage is not None


def test_changed_text_keeps_the_completion_and_the_untouched_chunks(
    fake: FakeProvider, oai: openai.OpenAI
) -> None:
    """The text across all APIs is in test_codecs.py; here, what Chat's chunks carry besides."""
    frames = chat_stream("Hello there, world!", text_chunks=4, completion_id="chatcmpl-7")
    run = transcode(API, frames, Rewrite(text=lambda text: text.replace("o", "0")))
    completion = sdk_stream(fake, oai, run.out)
    assert completion.id == "chatcmpl-7"
    assert completion.choices[0].message.content == "Hell0 there, w0rld!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 25
    # Unchanged chunks (role, finish, usage, [DONE]) kept their bytes.
    for frame in (frames[0], *frames[-3:]):
        assert frame in run.out


def test_dropped_tool_calls_still_end_with_done(fake: FakeProvider, oai: openai.OpenAI) -> None:
    """Across all APIs in test_codecs.py; here, Chat's `[DONE]` after the change."""
    frames = chat_stream("Let me check.", tool_calls=[WEATHER, TIME])
    run = transcode(API, frames, Rewrite(tools=lambda call: "drop"))
    completion = sdk_stream(fake, oai, run.out)
    assert completion.usage is not None
    assert payloads(run.out)[-1] == "[DONE]"


def test_one_of_parallel_calls_dropped_is_renumbered(fake: FakeProvider, oai: openai.OpenAI) -> None:
    frames = chat_stream("", tool_calls=[WEATHER, TIME, SEARCH], json_chunks=3)
    run = transcode(API, frames, Rewrite(tools=lambda call: "drop" if call.name == "get_weather" else "pass"))
    assert set(tool_indices(run.out)) == {0, 1}
    completion = sdk_stream(fake, oai, run.out)
    assert calls_of(completion) == [
        (TIME.id, TIME.name, TIME.arguments),
        (SEARCH.id, SEARCH.name, SEARCH.arguments),
    ]
    assert completion.choices[0].finish_reason == "tool_calls"


def test_raw_chunks_with_stale_tool_index_are_reserialized(fake: FakeProvider, oai: openai.OpenAI) -> None:
    """Dropping a call and adding a text block leaves the next call's block index as upstream had it."""
    frames = chat_stream("Text.", tool_calls=[WEATHER, TIME], json_chunks=3)
    policy = Rewrite(tools=lambda call: "drop" if call.name == "get_weather" else "pass", append=" Note.")
    run = transcode(API, frames, policy)
    assert set(tool_indices(run.out)) == {0}
    completion = sdk_stream(fake, oai, run.out)
    assert completion.choices[0].message.content == "Text.\n\n Note."
    assert calls_of(completion) == [(TIME.id, TIME.name, TIME.arguments)]


def test_changed_text_in_first_and_finish_chunks(fake: FakeProvider, oai: openai.OpenAI) -> None:
    frames = IDENTITY_CASES["content_in_first_and_finish_chunks"]
    run = transcode(API, frames, Rewrite(text=str.upper))
    completion = sdk_stream(fake, oai, run.out)
    assert completion.choices[0].message.content == "HI THERE!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 4
    first = payloads(run.out)[0]
    assert first["choices"][0]["delta"] == {"role": "assistant"}
    assert first["system_fingerprint"] == "fp_1"


def test_reasoning_survives_changed_text(fake: FakeProvider, oai: openai.OpenAI) -> None:
    for key in ("reasoning_content", "reasoning"):
        run = transcode(API, reasoning_stream(key), Rewrite(drop_text=True, append="Replaced."))
        sent = [p["choices"][0]["delta"] for p in payloads(run.out) if isinstance(p, dict) and p["choices"]]
        assert "".join(d.get(key) or "" for d in sent) == "Let me think."
        completion = sdk_stream(fake, oai, run.out)
        assert completion.choices[0].message.content == "Replaced."


def test_synthesized_reasoning_uses_upstream_key() -> None:
    run = transcode(
        API,
        reasoning_stream("reasoning"),
        lambda e: [dataclasses.replace(e, text=e.text.upper())] if isinstance(e, BlockDelta) else [e],
    )
    deltas = [p["choices"][0]["delta"] for p in payloads(run.out) if isinstance(p, dict) and p["choices"]]
    assert {"reasoning": "LET ME "} in deltas
    assert not any("reasoning_content" in d for d in deltas)


def test_changed_refusal(fake: FakeProvider, oai: openai.OpenAI) -> None:
    frames = [
        chunk({"role": "assistant", "content": None, "refusal": None}),
        chunk({"refusal": "No."}),
        chunk({}, "stop"),
        DONE_FRAME,
    ]

    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockDelta) and event.kind is BlockKind.OTHER:
            return [dataclasses.replace(event, text="Sorry, no.")]
        return [event]

    completion = sdk_stream(fake, oai, transcode(API, frames, policy).out)
    assert completion.choices[0].message.refusal == "Sorry, no."
    assert not completion.choices[0].message.content


def test_changed_usage_patches_the_usage_chunk(fake: FakeProvider, oai: openai.OpenAI) -> None:
    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, MessageEnd):
            return [dataclasses.replace(event, usage=Usage(input_tokens=1, output_tokens=2))]
        return [event]

    completion = sdk_stream(fake, oai, transcode(API, chat_stream("Hi"), policy).out)
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1, 2)
    assert completion.usage.total_tokens == 3


def test_unknown_fields_survive_renumbering() -> None:
    """A renumbered tool call keeps its entry's unknown fields, and chunks keep the stream's fields."""
    tier: dict[str, Any] = {"service_tier": "default", "usage": None}
    frames = [
        chunk({"role": "assistant", "content": None}, **tier),
        *(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": c.id,
                            "type": "function",
                            "x_extra": i,
                            "function": {"name": c.name, "arguments": ""},
                        }
                    ]
                },
                **tier,
            )
            for i, c in enumerate([WEATHER, TIME])
        ),
        chunk({}, "tool_calls", **tier),
        DONE_FRAME,
    ]
    run = transcode(API, frames, Rewrite(tools=lambda call: "drop" if call.name == "get_weather" else "pass"))
    sent = [p for p in payloads(run.out) if isinstance(p, dict)]
    (start,) = [c for p in sent for c in p["choices"][0]["delta"].get("tool_calls", [])]
    assert start == {
        "index": 0,
        "id": TIME.id,
        "type": "function",
        "x_extra": 1,
        "function": {"name": TIME.name, "arguments": ""},
    }
    for payload in sent:
        assert {k: payload[k] for k in ("id", "created", "model", "system_fingerprint", "service_tier")} == {
            "id": "chatcmpl-X",
            "created": 1700000000,
            "model": "deepseek-reasoner",
            "system_fingerprint": "fp_1",
            "service_tier": "default",
        }
        assert payload["usage"] is None


def test_encode_policy_built_stream(fake: FakeProvider, oai: openai.OpenAI) -> None:
    """Events no upstream produced encode into a complete stream."""
    codec = OpenAIChatCodec()
    call = ToolCall("call_new", "lookup", '{"k": 1}')
    events: list[CallEvent] = [
        MessageStart("chatcmpl-new", "gpt-5"),
        BlockStart(0, BlockKind.THINKING),
        BlockDelta(0, BlockKind.THINKING, text="hmm"),
        BlockDelta(0, BlockKind.THINKING, signature="sig"),
        BlockComplete(0, Block(BlockKind.THINKING, text="hmm", signature="sig")),
        BlockStart(1, BlockKind.TEXT),
        BlockDelta(1, BlockKind.TEXT, text="Hi"),
        BlockComplete(1, text_block("Hi")),
        BlockStart(2, BlockKind.TOOL_CALL, tool_call=ToolCall(call.id, call.name, "")),
        BlockDelta(2, BlockKind.TOOL_CALL, text=call.arguments),
        BlockComplete(2, Block(BlockKind.TOOL_CALL, tool_call=call)),
        MessageEnd(StopReason.TOOL_USE),
    ]
    wire = [w for event in events for w in codec.encode(event)] + codec.finish_encode()
    data = b"".join(OPENAI_CHAT.encode(w) for w in wire)
    # role, thinking, text, tool-call start, arguments, finish; the signature has no chat form
    assert [type(w.data).__name__ for w in wire].count("dict") == 6
    completion = sdk_stream(fake, oai, data)
    assert completion.id == "chatcmpl-new"
    assert completion.choices[0].message.content == "Hi"
    assert calls_of(completion) == [("call_new", "lookup", {"k": 1})]
    assert completion.choices[0].finish_reason == "tool_calls"


# --- non-streaming bodies --------------------------------------------------------------------------


def test_decode_body() -> None:
    body = chat_completion("Calling.", tool_calls=[WEATHER], completion_id="chatcmpl-B")
    body["choices"][0]["message"]["reasoning_content"] = "Thinking."
    events = OpenAIChatCodec().decode_body(response_event(orjson.dumps(body), body))
    completes = [event.block for event in events if isinstance(event, BlockComplete)]
    assert [b.kind for b in completes] == [BlockKind.THINKING, BlockKind.TEXT, BlockKind.TOOL_CALL]
    assert completes[2].tool_call == ToolCall(
        WEATHER.id, WEATHER.name, orjson.dumps(WEATHER.arguments).decode()
    )
    end = events[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE
    assert end.usage is not None
    assert end.usage.input_tokens == 25
    origin = events[0].origin
    assert origin is not None
    assert origin.parts == len(events)
    assert all(event.origin is origin for event in events)


@pytest.mark.parametrize(
    "body",
    [
        chat_completion("Hello."),
        chat_completion("", tool_calls=[WEATHER, TIME]),
        chat_completion("x", tool_calls=[FakeCall("c", "f", '{"broken')]),
    ],
)
def test_identity_body_is_the_original(body: dict[str, Any]) -> None:
    original, encoded = transcode_body(API, body)
    assert encoded is original


def test_body_changed_text(fake: FakeProvider, oai: openai.OpenAI) -> None:
    body = chat_completion("Hello.", completion_id="chatcmpl-B")
    body["choices"][0]["message"]["x_extra"] = "kept"
    _, encoded = transcode_body(API, body, Rewrite(text=str.upper))
    assert encoded.raw is None
    assert encoded.data["choices"][0]["message"]["x_extra"] == "kept"
    completion = sdk_body(fake, oai, encoded.data)
    assert completion.id == "chatcmpl-B"
    assert completion.choices[0].message.content == "HELLO."
    assert completion.choices[0].finish_reason == "stop"


def test_body_tool_calls_dropped_blocked_and_kept(fake: FakeProvider, oai: openai.OpenAI) -> None:
    body = chat_completion("", tool_calls=[WEATHER, TIME, SEARCH])
    verdicts = {"get_weather": "drop", "get_time": "block", "search": "pass"}
    _, encoded = transcode_body(API, body, Rewrite(tools=lambda call: verdicts[call.name]))
    completion = sdk_body(fake, oai, encoded.data)
    choice = completion.choices[0]
    assert choice.message.content == "blocked get_time"
    assert calls_of(completion) == [(SEARCH.id, SEARCH.name, SEARCH.arguments)]
    assert choice.finish_reason == "tool_calls"


def test_body_all_tool_calls_dropped(fake: FakeProvider, oai: openai.OpenAI) -> None:
    body = chat_completion("", tool_calls=[WEATHER])
    _, encoded = transcode_body(API, body, Rewrite(tools=lambda call: "drop"))
    assert "tool_calls" not in encoded.data["choices"][0]["message"]
    completion = sdk_body(fake, oai, encoded.data)
    choice = completion.choices[0]
    assert (choice.message.content, choice.message.tool_calls, choice.finish_reason) == (None, None, "stop")


def test_body_text_dropped_and_appended(fake: FakeProvider, oai: openai.OpenAI) -> None:
    body = chat_completion("Secret.")
    _, encoded = transcode_body(API, body, Rewrite(drop_text=True))
    assert encoded.data["choices"][0]["message"]["content"] is None
    _, encoded = transcode_body(API, body, Rewrite(append=" More."))
    completion = sdk_body(fake, oai, encoded.data)
    assert completion.choices[0].message.content == "Secret.\n\n More."


def test_body_reasoning_refusal_and_usage() -> None:
    body = chat_completion("Answer.")
    message = body["choices"][0]["message"]
    message.update(reasoning="Why.", refusal="Partly refused.")

    def policy(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockComplete) and event.block.kind is BlockKind.THINKING:
            return [BlockComplete(event.index, Block(BlockKind.THINKING, text="WHY."))]
        if isinstance(event, BlockStart | BlockDelta) and event.kind is BlockKind.THINKING:
            return []
        if isinstance(event, MessageEnd):
            return [dataclasses.replace(event, usage=Usage(output_tokens=99))]
        return [event]

    _, encoded = transcode_body(API, body, policy)
    out = encoded.data["choices"][0]["message"]
    assert (out["reasoning"], out["refusal"], out["content"]) == ("WHY.", "Partly refused.", "Answer.")
    assert "reasoning_content" not in out
    usage = encoded.data["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (25, 99, 124)


def test_encode_policy_built_body(fake: FakeProvider, oai: openai.OpenAI) -> None:
    events: list[CallEvent] = [
        MessageStart("chatcmpl-own", "gpt-5"),
        BlockComplete(0, text_block("Own answer.")),
        MessageEnd(StopReason.END_TURN),
    ]
    encoded = OpenAIChatCodec().encode_body(events)
    completion = sdk_body(fake, oai, encoded.data)
    assert completion.id == "chatcmpl-own"
    assert completion.choices[0].message.content == "Own answer."


# --- edge shapes -----------------------------------------------------------------------------------


def test_done_without_finish_chunk(fake: FakeProvider, oai: openai.OpenAI) -> None:
    frames = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}), DONE_FRAME]
    run = transcode(API, frames)
    assert run.out == b"".join(frames)
    end = run.decoded[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.END_TURN
    assert end.origin is not None
    assert [wire.type for wire in end.origin.wire] == [DONE]
    # The unchanged end goes out as it came: without a finish chunk.
    changed = transcode(API, frames, Rewrite(text=str.upper)).out
    assert changed.endswith(b'"content":"HI"},"logprobs":null,"finish_reason":null}]}\n\n' + DONE_FRAME)
    assert sdk_stream(fake, oai, changed).choices[0].message.content == "HI"


def test_finish_without_done_gets_no_done_when_reserialized() -> None:
    """An upstream that never sent `[DONE]` did not finish: re-serializing must not make one up."""
    frames = chat_stream("Hi", tool_calls=[TIME], done=False)
    assert transcode(API, frames).out == b"".join(frames)
    sent = payloads(transcode(API, frames, Rewrite(tools=lambda call: "drop")).out)
    assert "[DONE]" not in sent
    assert sent[-2]["choices"][0]["finish_reason"] == "stop"
    assert sent[-1]["usage"] is not None


def test_single_chunk_stream(fake: FakeProvider, oai: openai.OpenAI) -> None:
    frames = [chunk({"role": "assistant", "content": "All at once."}, "stop"), DONE_FRAME]
    run = transcode(API, frames)
    assert run.out == b"".join(frames)
    assert [type(e).__name__ for e in run.decoded] == [
        "MessageStart",
        "BlockStart",
        "BlockDelta",
        "BlockComplete",
        "MessageEnd",
    ]
    completion = sdk_stream(fake, oai, transcode(API, frames, Rewrite(text=str.upper)).out)
    assert completion.choices[0].message.content == "ALL AT ONCE."
    assert completion.choices[0].finish_reason == "stop"


def test_chunks_after_the_end_are_opaque() -> None:
    frames = [*chat_stream("Hi", include_usage=False), chunk({"content": "late"}), DONE_FRAME]
    run = transcode(API, frames)
    assert run.out == b"".join(frames)
    assert [type(e).__name__ for e in run.decoded[-2:]] == ["Opaque", "Opaque"]


def test_tool_calls_without_index(fake: FakeProvider, oai: openai.OpenAI) -> None:
    """Some servers omit `index`: a new `id` starts a call, pieces without one continue it."""

    def piece(call: FakeCall | None, arguments: str) -> bytes:
        entry: dict[str, Any] = {"function": {"arguments": arguments}}
        if call is not None:
            entry = {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
        return chunk({"tool_calls": [entry]})

    frames = [
        chunk({"role": "assistant", "content": None}),
        piece(WEATHER, '{"city": "Paris", '),
        piece(None, '"units": "metric", "days": [1, 2, 3]}'),
        piece(TIME, ""),
        piece(None, '{"timezone": "Europe/Paris"}'),
        chunk({}, "tool_calls"),
        DONE_FRAME,
    ]
    run = transcode(API, frames)
    assert run.out == b"".join(frames)
    calls = [e.block.tool_call for e in run.decoded if isinstance(e, BlockComplete)]
    assert [(c.id, orjson.loads(c.arguments)) for c in calls if c is not None] == [
        (WEATHER.id, WEATHER.arguments),
        (TIME.id, TIME.arguments),
    ]
    # Re-serialized calls get their index (the SDK needs it).
    dropped = transcode(
        API, frames, Rewrite(tools=lambda call: "drop" if call.name == "get_weather" else "pass")
    )
    assert tool_indices(dropped.out) == [0, 0]
    completion = sdk_stream(fake, oai, dropped.out)
    assert calls_of(completion) == [(TIME.id, TIME.name, TIME.arguments)]


def test_interleaved_tool_call_fragments_are_assembled_by_index(
    fake: FakeProvider, oai: openai.OpenAI
) -> None:
    """Fragments of a call may come after another call started: each call collects its own."""

    def args(index: int, arguments: str) -> bytes:
        return chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})

    start = [
        chunk({"tool_calls": [{"index": i, "id": c.id, "type": "function", "function": {"name": c.name}}]})
        for i, c in enumerate([WEATHER, TIME])
    ]
    frames = [
        chunk({"role": "assistant"}),
        start[0],
        args(0, '{"city": "Paris", '),
        start[1],
        args(1, '{"timezone": '),
        args(0, '"units": "metric", "days": [1, 2, 3]}'),
        args(1, '"Europe/Paris"}'),
        chunk({}, "tool_calls"),
        DONE_FRAME,
    ]
    run = transcode(API, frames)
    calls = [e.block.tool_call for e in run.decoded if isinstance(e, BlockComplete)]
    assert [(c.id, orjson.loads(c.arguments)) for c in calls if c is not None] == [
        (WEATHER.id, WEATHER.arguments),
        (TIME.id, TIME.arguments),
    ]
    # A policy that holds tool calls gets each whole; the client gets them one after the other
    # (tool calls are sent at the end, each call's chunks together).
    held = transcode(API, frames, Rewrite())
    assert calls_of(sdk_stream(fake, oai, held.out)) == [
        (WEATHER.id, WEATHER.name, WEATHER.arguments),
        (TIME.id, TIME.name, TIME.arguments),
    ]
    assert held.reports == []


def test_text_after_a_tool_call_continues_the_content(fake: FakeProvider, oai: openai.OpenAI) -> None:
    """Chat's content is one string: text on both sides of a tool call is one text block."""
    frames = [
        chunk({"role": "assistant", "content": "a"}),
        chunk(
            {"tool_calls": [{"index": 0, "id": TIME.id, "type": "function", "function": {"name": TIME.name}}]}
        ),
        chunk(
            {"tool_calls": [{"index": 0, "function": {"arguments": orjson.dumps(TIME.arguments).decode()}}]}
        ),
        chunk({"content": " trailing"}),
        chunk({}, "tool_calls"),
        DONE_FRAME,
    ]
    run = transcode(API, frames)
    texts = [
        e.block.text for e in run.decoded if isinstance(e, BlockComplete) and e.block.kind is BlockKind.TEXT
    ]
    assert texts == ["a trailing"]
    for policy in (Rewrite(), Rewrite(tools=lambda call: "drop")):
        completion = sdk_stream(fake, oai, transcode(API, frames, policy).out)
        assert completion.choices[0].message.content == "a trailing"
    upper = sdk_stream(fake, oai, transcode(API, frames, Rewrite(text=str.upper)).out)
    assert upper.choices[0].message.content == "A TRAILING"


def test_content_interrupted_by_reasoning_stays_one_string(fake: FakeProvider, oai: openai.OpenAI) -> None:
    """Two pieces of the model's content are one string upstream; only added text is set off."""
    frames = [
        chunk({"role": "assistant", "content": "The answer"}),
        chunk({"reasoning_content": "Checking."}),
        chunk({"content": " is 4."}),
        chunk({}, "stop"),
        DONE_FRAME,
    ]
    upper = sdk_stream(fake, oai, transcode(API, frames, Rewrite(text=str.upper)).out)
    assert upper.choices[0].message.content == "THE ANSWER IS 4."
    appended = sdk_stream(fake, oai, transcode(API, frames, Rewrite(append="[note]")).out)
    assert appended.choices[0].message.content == "The answer is 4." + TEXT_BLOCK_SEPARATOR + "[note]"


def test_encode_odd_events() -> None:
    """EventPolicy-built Opaque events, deltas with provider data, and unknown OTHER blocks."""
    codec = OpenAIChatCodec()
    keep_alive = WireEvent("comment", None)
    assert codec.encode(Opaque(keep_alive)) == [keep_alive]
    codec.encode(MessageStart("c", "m"))
    assert codec.encode(BlockStart(0, BlockKind.OTHER, data={"type": "server_tool_use"})) == []
    assert codec.encode(BlockDelta(0, BlockKind.OTHER, text="?")) == []
    (wire,) = codec.encode(BlockDelta(0, BlockKind.OTHER, data={"audio": {"id": "a"}}))
    assert wire.data["choices"][0]["delta"] == {"audio": {"id": "a"}}
    assert codec.encode(BlockComplete(0, Block(BlockKind.OTHER))) == []
