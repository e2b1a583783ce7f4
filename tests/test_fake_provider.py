"""The fake provider is faithful: the official SDKs, pointed straight at it, parse everything it sends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import httpx2  # the transport the anthropic SDK is built on
import openai
import orjson
import pytest
from anthropic.types import Message, TextBlock, ThinkingBlock, ToolUseBlock
from openai.types.responses import ResponseFunctionToolCall, ResponseReasoningItem

from tests.conftest import SDK_KEY
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    Pause,
    RawReply,
    StreamReply,
    ToolCall,
    anthropic_error_body,
    anthropic_error_event,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    openai_error_body,
    response_object,
    responses_stream,
    split_text,
    sse_frame,
)

USER: Any = [{"role": "user", "content": "hi"}]
WEATHER = ToolCall("toolu_01A", "get_weather", {"city": "Paris", "units": "metric", "days": [1, 2, 3]})
TIME = ToolCall("toolu_01B", "get_time", {"timezone": "Europe/Paris"})


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def fake(server: FakeProvider) -> Iterator[FakeProvider]:
    server.reset()
    yield server
    server.reset()


def _blocks(message: Message) -> tuple[list[TextBlock], list[ThinkingBlock], list[ToolUseBlock]]:
    texts = [b for b in message.content if isinstance(b, TextBlock)]
    thinking = [b for b in message.content if isinstance(b, ThinkingBlock)]
    tools = [b for b in message.content if isinstance(b, ToolUseBlock)]
    return texts, thinking, tools


def _sse_events(frames: list[bytes]) -> list[tuple[str | None, str]]:
    """Parse frames back into (event, data) pairs, checking each is one well-formed SSE frame."""
    events: list[tuple[str | None, str]] = []
    for frame in frames:
        assert frame.endswith(b"\n\n")
        assert b"\n\n" not in frame[:-2]
        event: str | None = None
        data: list[str] = []
        for line in frame[:-2].decode().split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            else:
                assert field == "data"
                data.append(value)
        events.append((event, "\n".join(data)))
    return events


# -- Anthropic Messages --------------------------------------------------------------------------------


def test_anthropic_stream_text(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    fake.enqueue(StreamReply(anthropic_stream("The quick brown fox.", text_chunks=4, message_id="msg_01X")))
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER) as stream:
        pieces = list(stream.text_stream)
        message = stream.get_final_message()
    assert pieces == split_text("The quick brown fox.", 4)
    assert len(pieces) == 4
    texts, _, _ = _blocks(message)
    assert [t.text for t in texts] == ["The quick brown fox."]
    assert message.id == "msg_01X"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 25
    assert message.usage.output_tokens > 1


def test_anthropic_stream_thinking_with_signature(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    fake.enqueue(
        StreamReply(anthropic_stream("Answer.", thinking="Let me think it through.", signature="sig-1"))
    )
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    texts, thinking, _ = _blocks(message)
    assert [(b.thinking, b.signature) for b in thinking] == [("Let me think it through.", "sig-1")]
    assert [t.text for t in texts] == ["Answer."]
    assert isinstance(message.content[0], ThinkingBlock)
    assert kinds.count("thinking") == 3
    assert kinds.count("signature") == 1


def test_anthropic_stream_parallel_tool_calls(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    fake.enqueue(StreamReply(anthropic_stream("Checking.", tool_calls=[WEATHER, TIME], json_chunks=7)))
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER) as stream:
        json_events = [event for event in stream if event.type == "input_json"]
        message = stream.get_final_message()
    _, _, tools = _blocks(message)
    assert [(t.id, t.name, t.input) for t in tools] == [
        (WEATHER.id, WEATHER.name, WEATHER.arguments),
        (TIME.id, TIME.name, TIME.arguments),
    ]
    assert len(json_events) == 14
    assert message.stop_reason == "tool_use"


def test_anthropic_stream_raw_events_and_verbatim_arguments(
    fake: FakeProvider, claude: anthropic.Anthropic
) -> None:
    cut_json = '{"city": "Par'
    fake.enqueue(
        StreamReply(anthropic_stream("", tool_calls=[ToolCall("toolu_1", "f", cut_json)], json_chunks=3))
    )
    events = list(claude.messages.create(model="m", max_tokens=8, messages=USER, stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    partials = [
        event.delta.partial_json
        for event in events
        if event.type == "content_block_delta" and event.delta.type == "input_json_delta"
    ]
    assert len(partials) == 3
    assert "".join(partials) == cut_json
    starts = [event.content_block for event in events if event.type == "content_block_start"]
    assert [block.type for block in starts] == ["tool_use"]


def test_anthropic_non_streaming_builder(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    fake.enqueue(
        JSONReply(anthropic_message("Sure.", thinking="Hmm.", signature="sig-2", tool_calls=[WEATHER, TIME]))
    )
    raw = claude.messages.with_raw_response.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["content-type"] == "application/json"
    message = raw.parse()
    texts, thinking, tools = _blocks(message)
    assert [t.text for t in texts] == ["Sure."]
    assert [(b.thinking, b.signature) for b in thinking] == [("Hmm.", "sig-2")]
    assert [t.input for t in tools] == [WEATHER.arguments, TIME.arguments]
    assert message.stop_reason == "tool_use"


def test_anthropic_defaults(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model="claude-opus-x", max_tokens=8, messages=USER)
    texts, _, _ = _blocks(message)
    assert [t.text for t in texts] == ["Hello from the fake provider."]
    assert message.model == "claude-opus-x"
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=8, messages=USER) as stream:
        assert stream.get_final_text() == "Hello from the fake provider."
    assert claude.messages.count_tokens(model="m", messages=USER).input_tokens == 42
    models = claude.models.list()
    assert models.data
    assert all(model.type == "model" and model.display_name for model in models.data)
    assert models.has_more is False
    assert models.first_id == models.data[0].id


@pytest.mark.parametrize(
    ("status", "error_type", "exc_type"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
    ],
)
def test_anthropic_http_errors(
    fake: FakeProvider,
    claude: anthropic.Anthropic,
    status: int,
    error_type: str,
    exc_type: type[anthropic.APIStatusError],
) -> None:
    fake.enqueue(
        JSONReply(anthropic_error_body(error_type, "nope"), status=status, headers={"retry-after": "1"})
    )
    with pytest.raises(exc_type) as info:
        claude.messages.create(model="m", max_tokens=8, messages=USER)
    assert info.value.status_code == status
    assert info.value.request_id is not None
    assert info.value.response.headers["retry-after"] == "1"
    body: Any = info.value.body
    assert body["error"]["type"] == error_type
    # A streaming request gets the same error before any event.
    fake.enqueue(JSONReply(anthropic_error_body(error_type, "nope"), status=status))
    with pytest.raises(exc_type), claude.messages.stream(model="m", max_tokens=8, messages=USER) as stream:
        stream.get_final_message()


def test_anthropic_mid_stream_error_event(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    frames = [
        *anthropic_stream("Partial answer")[:4],
        anthropic_error_event("overloaded_error", "Overloaded"),
    ]
    fake.enqueue(StreamReply(frames))
    stream = claude.messages.stream(model="m", max_tokens=8, messages=USER)
    with pytest.raises(anthropic.APIStatusError) as info, stream as events:
        events.get_final_message()
    body: Any = info.value.body
    assert body["error"]["type"] == "overloaded_error"


def test_anthropic_cut_stream(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    fake.enqueue(StreamReply(anthropic_stream("Never finished")[:5], cut=True))
    # The anthropic SDK lets its transport's error through mid-stream; the openai SDK wraps it.
    stream = claude.messages.stream(model="m", max_tokens=8, messages=USER)
    with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)), stream as events:
        events.get_final_message()
    assert fake.wait_stream_closed(2)


# -- OpenAI Chat Completions ---------------------------------------------------------------------------


def test_chat_stream_text(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(StreamReply(chat_stream("Hello there, world!", text_chunks=5, completion_id="chatcmpl-1")))
    with oai.chat.completions.stream(model="gpt-5", messages=USER) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta" and event.delta]
        completion = stream.get_final_completion()
    assert len(deltas) == 5
    assert completion.id == "chatcmpl-1"
    choice = completion.choices[0]
    assert choice.message.content == "Hello there, world!"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_chat_stream_parallel_tool_calls(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(StreamReply(chat_stream("", tool_calls=[WEATHER, TIME], json_chunks=6)))
    with oai.chat.completions.stream(model="gpt-5", messages=USER) as stream:
        arg_deltas = [event for event in stream if event.type == "tool_calls.function.arguments.delta"]
        completion = stream.get_final_completion()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert not choice.message.content
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, orjson.loads(c.function.arguments)) for c in calls] == [
        (WEATHER.id, WEATHER.name, WEATHER.arguments),
        (TIME.id, TIME.name, TIME.arguments),
    ]
    assert len([event for event in arg_deltas if event.arguments_delta]) == 12


def test_chat_stream_raw_chunks(fake: FakeProvider, oai: openai.OpenAI) -> None:
    bad_json = '{"a": [1, 2'
    fake.enqueue(
        StreamReply(chat_stream("Hi", tool_calls=[ToolCall("call_1", "f", bad_json)], json_chunks=4))
    )
    chunks = list(oai.chat.completions.create(model="gpt-5", messages=USER, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert all(chunk.usage is None for chunk in chunks[:-1])
    fragments = [
        tool.function.arguments
        for chunk in chunks
        for choice in chunk.choices
        for tool in choice.delta.tool_calls or []
        if tool.function is not None and tool.function.arguments
    ]
    assert "".join(fragments) == bad_json
    first_tool_delta = next(
        tool for chunk in chunks for choice in chunk.choices for tool in choice.delta.tool_calls or []
    )
    assert first_tool_delta.id == "call_1"
    assert first_tool_delta.function is not None
    assert first_tool_delta.function.name == "f"


def test_chat_non_streaming_builder(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(JSONReply(chat_completion("Calling tools.", tool_calls=[WEATHER, TIME], model="gpt-5-mini")))
    raw = oai.chat.completions.with_raw_response.create(model="gpt-5", messages=USER)
    assert raw.headers["x-request-id"].startswith("req_")
    completion = raw.parse()
    choice = completion.choices[0]
    assert choice.message.content == "Calling tools."
    assert choice.finish_reason == "tool_calls"
    assert completion.model == "gpt-5-mini"
    calls = choice.message.tool_calls or []
    assert [c.id for c in calls] == [WEATHER.id, TIME.id]


def test_chat_defaults_honour_include_usage(fake: FakeProvider, oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="gpt-5-nano", messages=USER)
    assert completion.choices[0].message.content == "Hello from the fake provider."
    assert completion.model == "gpt-5-nano"
    with_usage = list(
        oai.chat.completions.create(
            model="gpt-5", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[-1].usage is not None
    without_usage = list(oai.chat.completions.create(model="gpt-5", messages=USER, stream=True))
    assert all(chunk.usage is None and chunk.choices for chunk in without_usage)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in without_usage)
    assert text == "Hello from the fake provider."


def test_chat_mid_stream_error(fake: FakeProvider, oai: openai.OpenAI) -> None:
    frames = [*chat_stream("Hello")[:2], sse_frame(None, openai_error_body("server_error", "boom"))]
    fake.enqueue(StreamReply(frames))
    with pytest.raises(openai.APIError):
        list(oai.chat.completions.create(model="gpt-5", messages=USER, stream=True))


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, openai.BadRequestError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_openai_http_errors(
    fake: FakeProvider, oai: openai.OpenAI, status: int, exc_type: type[openai.APIStatusError]
) -> None:
    fake.enqueue(JSONReply(openai_error_body("server_error", "nope", code="some_code"), status=status))
    with pytest.raises(exc_type) as info:
        oai.chat.completions.create(model="gpt-5", messages=USER)
    assert info.value.status_code == status
    assert info.value.code == "some_code"
    assert info.value.request_id is not None
    fake.enqueue(JSONReply(openai_error_body("server_error", "nope"), status=status))
    with pytest.raises(exc_type):
        oai.responses.create(model="gpt-5", input="hi", stream=True)


def test_openai_cut_stream(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(StreamReply(chat_stream("Never finished")[:3], cut=True))
    with (
        pytest.raises(openai.APIConnectionError),
        oai.chat.completions.stream(model="g", messages=USER) as stream,
    ):
        stream.get_final_completion()
    assert fake.wait_stream_closed(2)


# -- OpenAI Responses ----------------------------------------------------------------------------------


def test_responses_stream_text_reasoning_and_parallel_calls(fake: FakeProvider, oai: openai.OpenAI) -> None:
    frames = responses_stream(
        "Here you go.",
        reasoning="Thinking hard.",
        tool_calls=[WEATHER, TIME],
        json_chunks=4,
        response_id="resp_1",
    )
    fake.enqueue(StreamReply(frames))
    with oai.responses.stream(model="gpt-5", input="hi") as stream:
        kinds = [event.type for event in stream]
        response = stream.get_final_response()
    assert response.id == "resp_1"
    assert response.status == "completed"
    assert response.output_text == "Here you go."
    reasoning = [item for item in response.output if isinstance(item, ResponseReasoningItem)]
    assert [s.text for item in reasoning for s in item.summary] == ["Thinking hard."]
    calls = [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]
    assert [(c.call_id, c.name, orjson.loads(c.arguments)) for c in calls] == [
        (WEATHER.id, WEATHER.name, WEATHER.arguments),
        (TIME.id, TIME.name, TIME.arguments),
    ]
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert kinds.count("response.function_call_arguments.delta") == 8
    assert kinds.count("response.output_text.delta") == 3
    assert kinds.count("response.reasoning_summary_text.delta") == 3


def test_responses_raw_events_sequence_numbers(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(StreamReply(responses_stream("abc", tool_calls=[ToolCall("call_9", "f", "{oops")])))
    events = list(oai.responses.create(model="gpt-5", input="hi", stream=True))
    assert [event.sequence_number for event in events] == list(range(len(events)))
    done = [event for event in events if event.type == "response.function_call_arguments.done"]
    assert [event.arguments for event in done] == ["{oops"]
    added = [event for event in events if event.type == "response.output_item.added"]
    assert [event.item.type for event in added] == ["message", "function_call"]


def test_responses_non_streaming_builder_and_defaults(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(JSONReply(response_object("Done.", reasoning="R.", tool_calls=[TIME])))
    response = oai.responses.create(model="gpt-5", input="hi")
    assert response.output_text == "Done."
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    default = oai.responses.create(model="gpt-5-pro", input="hi")
    assert default.output_text == "Hello from the fake provider."
    assert default.model == "gpt-5-pro"
    with oai.responses.stream(model="gpt-5", input="hi") as stream:
        assert stream.get_final_response().output_text == "Hello from the fake provider."


def test_responses_incomplete(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(StreamReply(responses_stream("Trunc", status="incomplete")))
    events = list(oai.responses.create(model="gpt-5", input="hi", stream=True))
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"


def test_openai_models(oai: openai.OpenAI) -> None:
    models = oai.models.list()
    assert models.data
    assert all(model.object == "model" and model.owned_by for model in models.data)
    assert oai.models.retrieve(models.data[0].id).id == models.data[0].id


# -- server behaviour ----------------------------------------------------------------------------------


def test_request_log(fake: FakeProvider, claude: anthropic.Anthropic, oai: openai.OpenAI) -> None:
    claude.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=8,
        messages=USER,
        extra_headers={"X-Custom": "yes"},
        extra_query={"beta": "true"},
    )
    oai.chat.completions.create(model="gpt-5", messages=USER)
    first, second = fake.requests
    assert (first.method, first.path, first.query) == ("POST", "/v1/messages", "beta=true")
    assert SDK_KEY in (
        first.headers.get("x-api-key"),
        first.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert first.headers["x-custom"] == "yes"
    assert "anthropic-version" in first.headers
    assert all(name == name.lower() for name in first.headers)
    assert first.json()["model"] == "claude-sonnet-4-6"
    assert first.json()["max_tokens"] == 8
    assert orjson.loads(first.body) == first.json()
    assert (second.path, second.headers["authorization"]) == ("/v1/chat/completions", f"Bearer {SDK_KEY}")
    assert second.json()["messages"] == USER
    fake.reset()
    assert fake.requests == []


def test_fifo_and_default_after_queue(fake: FakeProvider) -> None:
    fake.enqueue(JSONReply({"n": 1}), JSONReply({"n": 2}, status=201))
    with httpx.Client(base_url=fake.base_url) as client:
        first = client.post("/v1/responses", json={})
        second = client.post("/v1/messages/count_tokens", json={})
        third = client.post("/v1/messages/count_tokens", json={})
        head = client.head("/")
        missing = client.get("/v1/nothing")
    assert (first.status_code, first.json()) == (200, {"n": 1})
    assert (second.status_code, second.json()) == (201, {"n": 2})
    assert third.json() == {"input_tokens": 42}
    assert head.status_code == 200
    assert missing.status_code == 404
    assert [r.path for r in fake.requests] == [
        "/v1/responses",
        "/v1/messages/count_tokens",
        "/v1/messages/count_tokens",
        "/",
        "/v1/nothing",
    ]


def test_reply_headers(fake: FakeProvider) -> None:
    fake.enqueue(
        JSONReply({}, headers={"x-ratelimit-remaining-requests": "0"}),
        RawReply(b"<html>bad gateway</html>", status=502, content_type="text/html"),
        StreamReply([sse_frame("ping", {"type": "ping"})], headers={"x-extra": "1"}),
    )
    with httpx.Client(base_url=fake.base_url) as client:
        scripted = client.post("/v1/chat/completions", json={})
        raw = client.post("/v1/messages", json={})
        streamed = client.post("/v1/messages", json={})
        anthropic_models = client.get("/v1/models", headers={"anthropic-version": "2023-06-01"})
        openai_models = client.get("/v1/models")
    assert scripted.headers["x-ratelimit-remaining-requests"] == "0"
    assert scripted.headers["x-request-id"]
    assert (raw.status_code, raw.text) == (502, "<html>bad gateway</html>")
    assert raw.headers["content-type"].startswith("text/html")
    assert raw.headers["request-id"]
    assert raw.headers["anthropic-ratelimit-requests-remaining"]
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["x-extra"] == "1"
    assert streamed.text == 'event: ping\ndata: {"type":"ping"}\n\n'
    assert anthropic_models.headers["request-id"]
    assert anthropic_models.json()["data"][0]["type"] == "model"
    assert openai_models.headers["x-request-id"]
    assert openai_models.headers["x-ratelimit-remaining-requests"]
    assert openai_models.json()["object"] == "list"


def test_raw_reply_malformed_json(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.enqueue(RawReply(b"{not json", content_type="application/json"))
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model="gpt-5", messages=USER)


def test_stream_pauses_and_open_streams(fake: FakeProvider) -> None:
    fake.enqueue(StreamReply([b"data: 1\n\n", Pause(0.3), b"data: 2\n\n"]))
    seen: list[int] = []
    start = time.monotonic()
    with (
        httpx.Client(base_url=fake.base_url) as client,
        client.stream("POST", "/v1/chat/completions") as reply,
    ):
        chunks = reply.iter_bytes()
        assert next(chunks) == b"data: 1\n\n"
        seen.append(fake.open_streams)
        rest = b"".join(chunks)
    assert rest == b"data: 2\n\n"
    assert time.monotonic() - start >= 0.3
    assert seen == [1]
    assert fake.wait_stream_closed(2)
    assert fake.open_streams == 0


def test_wait_stream_closed_on_peer_disconnect(fake: FakeProvider) -> None:
    fake.enqueue(StreamReply([b"data: 1\n\n", Pause(30), b"data: 2\n\n"]))
    with httpx.Client(base_url=fake.base_url) as client, client.stream("POST", "/v1/messages") as reply:
        chunks = reply.iter_bytes()  # keep a reference: dropping the iterator closes the response
        assert next(chunks) == b"data: 1\n\n"
        assert not fake.wait_stream_closed(0.1)
        assert fake.open_streams == 1
    start = time.monotonic()
    assert fake.wait_stream_closed(5)
    assert time.monotonic() - start < 5
    assert fake.open_streams == 0


def test_wait_stream_closed_waits_for_a_stream(fake: FakeProvider) -> None:
    assert not fake.wait_stream_closed(0.05)


def test_hang_reply_times_out_and_reset_releases(fake: FakeProvider, claude: anthropic.Anthropic) -> None:
    fake.enqueue(HangReply())
    with pytest.raises(anthropic.APITimeoutError):
        claude.with_options(timeout=0.3).messages.create(model="m", max_tokens=8, messages=USER)
    fake.enqueue(HangReply())
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with httpx.Client(base_url=fake.base_url, timeout=10) as client:
                client.post("/v1/messages", json={})
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    start = time.monotonic()
    worker.start()
    deadline = time.monotonic() + 5
    while len(fake.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    fake.reset()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - start < 5
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)


def test_stop_releases_hang_and_restart() -> None:
    provider = FakeProvider()
    provider.start()
    provider.enqueue(HangReply())
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.post(provider.base_url + "/v1/responses", json={}, timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 5
    while not provider.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    provider.stop()
    worker.join(5)
    assert not worker.is_alive()
    assert len(errors) == 1
    provider.start()
    try:
        assert httpx.head(provider.base_url + "/").status_code == 200
    finally:
        provider.stop()


# -- builders ------------------------------------------------------------------------------------------


def test_sse_frame() -> None:
    assert sse_frame("message_stop", {"type": "message_stop"}) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert sse_frame(None, "[DONE]") == b"data: [DONE]\n\n"
    assert sse_frame(None, "a\nb") == b"data: a\ndata: b\n\n"


def test_split_text() -> None:
    assert split_text("abcdefg", 3) == ["abc", "de", "fg"]
    assert split_text("ab", 5) == ["a", "b"]
    assert split_text("", 3) == []


def test_anthropic_stream_frame_order() -> None:
    extra = sse_frame("future_event", {"type": "future_event"})
    events = _sse_events(anthropic_stream("hey", thinking="t", tool_calls=[TIME], extra_events=[extra]))
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-3:] == ["future_event", "message_delta", "message_stop"]
    for name, data in events:
        assert orjson.loads(data)["type"] == name
    no_ping = [name for name, _ in _sse_events(anthropic_stream("x", ping=False))]
    assert "ping" not in no_ping


def test_chat_stream_frame_shape() -> None:
    events = _sse_events(chat_stream("hey", include_usage=False))
    assert all(name is None for name, _ in events)
    assert events[-1][1] == "[DONE]"
    bodies = [orjson.loads(data) for _, data in events[:-1]]
    assert all("usage" not in body for body in bodies)
    assert bodies[-1]["choices"][0]["finish_reason"] == "stop"
    assert len({body["id"] for body in bodies}) == 1


def test_responses_stream_frame_shape() -> None:
    events = _sse_events(responses_stream("hey", reasoning="why", tool_calls=[TIME]))
    bodies = [orjson.loads(data) for _, data in events]
    assert [body["sequence_number"] for body in bodies] == list(range(len(bodies)))
    assert all(name == body["type"] for (name, _), body in zip(events, bodies, strict=True))
    assert bodies[-1]["response"]["usage"]["total_tokens"] > 0
    assert bodies[0]["response"]["usage"] is None


def test_stored_objects_survive_malformed_scripts(fake: FakeProvider) -> None:
    frames = [
        b"data: {not json\n\n",
        b"event: x\n\n",
        sse_frame("response.completed", {"type": "response.completed"}),
    ]
    fake.enqueue(
        StreamReply(frames),
        JSONReply({"object": "chat.completion"}),  # no id: nothing to store
    )
    streamed = httpx.post(f"{fake.base_url}/v1/responses", json={"model": "gpt-5", "stream": True})
    chat = httpx.post(f"{fake.base_url}/v1/chat/completions", json={"model": "gpt-5", "store": True})

    assert streamed.status_code == chat.status_code == 200
    assert fake.stored.responses == {}
    assert fake.stored.completions == {}
