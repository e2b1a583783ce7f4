"""Every model call is recorded whole: the three APIs, streaming and not, through the official SDKs.

The fake provider answers with text and a tool call; the record must hold the ids, API, endpoint,
model, upstream, policy, status, timings in order, the usage the upstream reported (cache tokens
included), the request as sent, and the response: a streamed one assembled into exactly the whole
message the same API returns without streaming (the fake's non-streaming body with the same ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from luthien.records.model import TransactionRecord, TransactionStatus, Usage
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    response_object,
    responses_stream,
)
from tests.support.records import ALL_CALLS, Api, Sdks, open_sdks, record_of
from tests.support.servers import LuthienServer

TEXT = "Let me check the weather in Paris."
ANTHROPIC_CALL = ToolCall("toolu_01WeatherAbCdEfGhIjKl", "get_weather", {"city": "Paris"})
OPENAI_CALL = ToolCall("call_WeatherAbCdEfGhIjKlMnOp", "get_weather", {"city": "Paris"})
MESSAGE_ID = "msg_01RecordedAbCdEfGhIjKlMn"
COMPLETION_ID = "chatcmpl-RecordedAbCdEfGhIjKlMnOpQrStU"
RESPONSE_ID = "resp_" + "ab" * 25
CREATED = 1_760_000_000
USER_TEXT = "What is the weather in Paris?"
ANTHROPIC_MODEL = "claude-sonnet-4-6"
OPENAI_MODEL = "gpt-5"

ANTHROPIC_USAGE = {
    "input_tokens": 1200,
    "output_tokens": 56,
    "cache_read_input_tokens": 300,
    "cache_creation_input_tokens": 40,
}
CHAT_USAGE = {
    "prompt_tokens": 1500,
    "completion_tokens": 56,
    "total_tokens": 1556,
    "prompt_tokens_details": {"cached_tokens": 300, "audio_tokens": 0},
}
RESPONSES_USAGE = {
    "input_tokens": 1500,
    "output_tokens": 56,
    "total_tokens": 1556,
    "input_tokens_details": {"cached_tokens": 300},
}
EXPECTED_USAGE: dict[Api, Usage] = {
    "anthropic": Usage(input_tokens=1200, output_tokens=56, cache_read_tokens=300, cache_creation_tokens=40),
    "chat": Usage(input_tokens=1500, output_tokens=56, cache_read_tokens=300),
    "responses": Usage(input_tokens=1500, output_tokens=56, cache_read_tokens=300),
}
CLIENT_API: dict[Api, str] = {
    "anthropic": "anthropic_messages",
    "chat": "openai_chat",
    "responses": "openai_responses",
}
ENDPOINT: dict[Api, str] = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}


def whole_body(api: Api) -> dict[str, Any]:
    """The non-streaming body of the scripted answer."""
    if api == "anthropic":
        return anthropic_message(
            TEXT, tool_calls=[ANTHROPIC_CALL], message_id=MESSAGE_ID, usage=ANTHROPIC_USAGE
        )
    if api == "chat":
        return chat_completion(
            TEXT, tool_calls=[OPENAI_CALL], completion_id=COMPLETION_ID, created=CREATED, usage=CHAT_USAGE
        )
    return response_object(
        TEXT, tool_calls=[OPENAI_CALL], response_id=RESPONSE_ID, created_at=CREATED, usage=RESPONSES_USAGE
    )


def stream_frames(api: Api) -> list[bytes]:
    """The streaming form of the same answer."""
    if api == "anthropic":
        return anthropic_stream(
            TEXT, tool_calls=[ANTHROPIC_CALL], message_id=MESSAGE_ID, usage=ANTHROPIC_USAGE
        )
    if api == "chat":
        return chat_stream(
            TEXT, tool_calls=[OPENAI_CALL], completion_id=COMPLETION_ID, created=CREATED, usage=CHAT_USAGE
        )
    return responses_stream(
        TEXT, tool_calls=[OPENAI_CALL], response_id=RESPONSE_ID, created_at=CREATED, usage=RESPONSES_USAGE
    )


def terminal_response(frames: list[bytes]) -> dict[str, Any]:
    """The `response` of a Responses stream's terminal event (its last frame)."""
    data_line = frames[-1].decode().split("\n")[1]
    event = orjson.loads(data_line.removeprefix("data: "))
    assert event["type"] == "response.completed"
    return event["response"]


def assembled_equivalent(api: Api, frames: list[bytes]) -> dict[str, Any]:
    """What a streamed answer must assemble to: the whole message the API returns without streaming."""
    if api == "responses":
        # Item ids and `completed_at` are made per build: compare with this stream's own response.
        return terminal_response(frames)
    body = whole_body(api)
    if api == "chat":
        # Chat streams carry no `annotations` (a field of the whole message only).
        del body["choices"][0]["message"]["annotations"]
    return body


@pytest.fixture
def sdks(luthien: LuthienServer) -> Iterator[Sdks]:
    with open_sdks(luthien.base_url) as clients:
        yield clients


WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
WEATHER_TOOL_ANTHROPIC: Any = {
    "name": "get_weather",
    "description": "Weather.",
    "input_schema": WEATHER_SCHEMA,
}
WEATHER_FUNCTION = {"name": "get_weather", "description": "Weather.", "parameters": WEATHER_SCHEMA}
WEATHER_TOOL_CHAT: Any = {"type": "function", "function": WEATHER_FUNCTION}
WEATHER_TOOL_RESPONSES: Any = {"type": "function", **WEATHER_FUNCTION}


def call(sdks: Sdks, api: Api, streaming: bool) -> str:
    """Make the call with the API's SDK, consuming the whole answer; return the client's text."""
    if api == "anthropic":
        messages: Any = [{"role": "user", "content": USER_TEXT}]
        params: Any = {"model": ANTHROPIC_MODEL, "max_tokens": 512, "messages": messages}
        if streaming:
            with sdks.anthropic.messages.stream(**params, tools=[WEATHER_TOOL_ANTHROPIC]) as stream:
                message = stream.get_final_message()
        else:
            message = sdks.anthropic.messages.create(**params, tools=[WEATHER_TOOL_ANTHROPIC])
        return "".join(block.text for block in message.content if block.type == "text")
    if api == "chat":
        chat: Any = [{"role": "user", "content": USER_TEXT}]
        if streaming:
            with sdks.openai.chat.completions.stream(
                model=OPENAI_MODEL,
                messages=chat,
                tools=[WEATHER_TOOL_CHAT],
                stream_options={"include_usage": True},
            ) as chat_stream_:
                completion = chat_stream_.get_final_completion()
        else:
            completion = sdks.openai.chat.completions.create(
                model=OPENAI_MODEL, messages=chat, tools=[WEATHER_TOOL_CHAT]
            )
        return completion.choices[0].message.content or ""
    if streaming:
        with sdks.openai.responses.stream(
            model=OPENAI_MODEL, input=USER_TEXT, tools=[WEATHER_TOOL_RESPONSES]
        ) as responses_stream_:
            response = responses_stream_.get_final_response()
    else:
        response = sdks.openai.responses.create(
            model=OPENAI_MODEL, input=USER_TEXT, tools=[WEATHER_TOOL_RESPONSES]
        )
    return response.output_text


def assert_timing_in_order(record: TransactionRecord) -> None:
    timing = record.timing
    assert timing.upstream_first_byte_at is not None
    assert timing.first_token_at is not None
    assert timing.ended_at is not None
    assert timing.received_at <= timing.upstream_first_byte_at <= timing.first_token_at <= timing.ended_at
    assert timing.duration_ms is not None
    assert timing.time_to_first_token_ms is not None
    assert 0 <= timing.time_to_first_token_ms <= timing.duration_ms


@ALL_CALLS
def test_a_call_is_recorded_whole(
    luthien: LuthienServer, fake: FakeProvider, sdks: Sdks, api: Api, streaming: bool
) -> None:
    frames, body = stream_frames(api), whole_body(api)
    fake.enqueue(StreamReply(frames) if streaming else JSONReply(body))

    text = call(sdks, api, streaming)

    assert text == TEXT
    record = record_of(luthien, sdks.last_transaction)
    assert record.transaction_id == sdks.last_transaction
    assert record.client_api == CLIENT_API[api]
    assert record.endpoint == ENDPOINT[api]
    assert record.model == (ANTHROPIC_MODEL if api == "anthropic" else OPENAI_MODEL)
    assert record.upstream == ("anthropic" if api == "anthropic" else "openai")
    assert record.policy == "noop"
    assert record.status is TransactionStatus.OK
    assert record.http_status == 200
    assert record.streaming is streaming
    assert record.error is None
    assert record.events == ()
    assert record.usage == EXPECTED_USAGE[api]
    assert_timing_in_order(record)
    # The request as the client sent it, which is also what went upstream (no policy changed it).
    assert record.original_request == fake.requests[-1].body
    assert orjson.loads(record.original_request)["model"] == record.model
    assert record.final_request is None
    assert record.final_response is None
    assert record.original_response is not None
    if streaming:
        assert orjson.loads(record.original_response) == assembled_equivalent(api, frames)
    else:
        assert record.original_response == orjson.dumps(body)
    user_agent = record.request_headers["user-agent"]
    assert user_agent.startswith("Anthropic/Python" if api == "anthropic" else "OpenAI/Python")
