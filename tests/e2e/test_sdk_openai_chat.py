"""The OpenAI SDK's Chat Completions through a real Luthien server.

Each case runs streaming (`chat.completions.stream(...).get_final_completion()`) and non-streaming
(`chat.completions.create`), with the fake provider answering in the matching shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import openai
import orjson
import pytest
from openai.lib.streaming.chat import ContentDeltaEvent, FunctionToolCallArgumentsDeltaEvent
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    Reply,
    StreamReply,
    ToolCall,
    chat_completion,
    chat_stream,
    split_text,
    sse_frame,
)
from tests.support.servers import LuthienServer

MODEL = "gpt-5"
USER: list[ChatCompletionMessageParam] = [
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": "What's the weather in Paris and the time in Tokyo?"},
]

TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Current local time in an IANA time zone.",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string"}},
                "required": ["timezone"],
            },
        },
    },
]

WEATHER = ToolCall("call_WeatherAbCdEfGhIjKlMnOpQr", "get_weather", {"city": "Paris", "units": "metric"})
TIME = ToolCall("call_TimeAbCdEfGhIjKlMnOpQrSt", "get_time", {"timezone": "Asia/Tokyo"})

STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["stream", "create"])


@pytest.fixture
def client(luthien: LuthienServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{luthien.base_url}/v1", api_key="sk-client", max_retries=0) as sdk:
        yield sdk


def _reply(streaming: bool, text: str, *, text_chunks: int = 3, json_chunks: int = 5, **kwargs: Any) -> Reply:
    """The fake provider's answer, streamed (in that many deltas) or whole, with the same content."""
    if streaming:
        return StreamReply(chat_stream(text, text_chunks=text_chunks, json_chunks=json_chunks, **kwargs))
    return JSONReply(chat_completion(text, **kwargs))


Deltas = dict[str, list[str]]


def _ask(
    client: openai.OpenAI, streaming: bool, messages: list[ChatCompletionMessageParam], **params: Any
) -> tuple[ChatCompletion, Deltas]:
    """Call the API; return the final completion and the streamed deltas.

    The deltas are the non-empty text and argument pieces the SDK saw, in order (none for `create`).
    """
    deltas: Deltas = {"content": [], "arguments": []}
    if not streaming:
        # `**params` hides which overload applies, so pyright cannot infer the type.
        completion = cast(
            ChatCompletion, client.chat.completions.create(model=MODEL, messages=messages, **params)
        )
        return completion, deltas
    with client.chat.completions.stream(
        model=MODEL, messages=messages, stream_options={"include_usage": True}, **params
    ) as stream:
        for event in stream:
            if isinstance(event, ContentDeltaEvent) and event.delta:
                deltas["content"].append(event.delta)
            elif isinstance(event, FunctionToolCallArgumentsDeltaEvent) and event.arguments_delta:
                deltas["arguments"].append(event.arguments_delta)
        return stream.get_final_completion(), deltas


def _message(completion: ChatCompletion) -> ChatCompletionMessage:
    assert len(completion.choices) == 1
    return completion.choices[0].message


def _calls(completion: ChatCompletion) -> list[tuple[str, str, object]]:
    calls = _message(completion).tool_calls or []
    assert all(isinstance(call, ChatCompletionMessageFunctionToolCall) for call in calls)
    return [
        (call.id, call.function.name, json.loads(call.function.arguments))
        for call in calls
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]


def _assert_upstream_streaming(fake: FakeProvider, streaming: bool) -> None:
    body = fake.requests[-1].json()
    assert body.get("stream", False) is streaming


@STREAMING
def test_text(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    text = "Sunny in Paris — 21 °C. ☀️ Tokyo: 03:12."
    usage = {"prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290}
    fake.enqueue(_reply(streaming, text, completion_id="chatcmpl-TextAbCdEf", text_chunks=8, usage=usage))

    completion, deltas = _ask(client, streaming, USER)

    assert _message(completion).content == text
    assert completion.id == "chatcmpl-TextAbCdEf"
    assert completion.model == MODEL
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1234, 56)
    assert completion.usage.total_tokens == 1290
    if streaming:
        assert deltas["content"] == split_text(text, 8)
    _assert_upstream_streaming(fake, streaming)
    assert fake.requests[-1].json()["messages"] == USER


def _reasoning_frames(frames: list[bytes], pieces: list[str], signature: str) -> list[bytes]:
    """Insert OpenRouter-style reasoning deltas (text, then a signature) after the role chunk."""
    envelope: dict[str, Any] = orjson.loads(frames[0].removeprefix(b"data: "))

    def chunk(delta: dict[str, Any]) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
        return sse_frame(None, {**envelope, "choices": [choice]})

    deltas = [
        chunk(
            {
                "reasoning": piece,
                "reasoning_details": [
                    {"type": "reasoning.text", "text": piece, "index": 0}
                    | ({"format": "anthropic-claude-v1"} if i == 0 else {})
                ],
            }
        )
        for i, piece in enumerate(pieces)
    ]
    deltas.append(
        chunk({"reasoning_details": [{"type": "reasoning.text", "signature": signature, "index": 0}]})
    )
    return [frames[0], *deltas, *frames[1:]]


@STREAMING
def test_reasoning_with_signature(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    pieces = ["Paris first, ", "then Tokyo — ", "no tools needed."]
    signature = "EqQBCkYIBxgCKkDrA1" + "c2lnbmF0dXJl" * 20
    usage = {"completion_tokens_details": {"reasoning_tokens": 512, "audio_tokens": 0}}
    if streaming:
        fake.enqueue(StreamReply(_reasoning_frames(chat_stream("Done.", usage=usage), pieces, signature)))
    else:
        body = chat_completion("Done.", usage=usage)
        body["choices"][0]["message"]["reasoning"] = "".join(pieces)
        body["choices"][0]["message"]["reasoning_details"] = [
            {"type": "reasoning.text", "text": "".join(pieces), "format": "anthropic-claude-v1", "index": 0}
            | {"signature": signature}
        ]
        fake.enqueue(JSONReply(body))

    completion, _ = _ask(client, streaming, USER, reasoning_effort="high")

    message = _message(completion)
    assert message.content == "Done."
    extra = message.model_extra or {}
    assert extra["reasoning"] == "".join(pieces)
    assert extra["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": "".join(pieces),
            "format": "anthropic-claude-v1",
            "index": 0,
            "signature": signature,
        }
    ]
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 512
    assert fake.requests[-1].json()["reasoning_effort"] == "high"


@STREAMING
def test_tool_call_arguments_split_over_many_deltas(
    client: openai.OpenAI, fake: FakeProvider, streaming: bool
) -> None:
    arguments: dict[str, Any] = {
        "city": "Zürich",
        "units": "metric",
        "note": 'quote " backslash \\ newline \n tab \t emoji 🌦️',
        "nested": {"days": [1, 2, 3], "hourly": None, "ratio": 0.25, "on": True},
    }
    call = ToolCall("call_SplitAbCdEfGhIjKlMnOpQrS", "get_weather", arguments)
    fake.enqueue(_reply(streaming, "", tool_calls=[call], json_chunks=40))

    completion, deltas = _ask(client, streaming, USER, tools=TOOLS)

    assert _calls(completion) == [(call.id, "get_weather", arguments)]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert not _message(completion).content
    if streaming:
        assert len(deltas["arguments"]) == 40
        assert json.loads("".join(deltas["arguments"])) == arguments


@STREAMING
def test_two_parallel_tool_calls(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    fake.enqueue(_reply(streaming, "Checking both.", tool_calls=[WEATHER, TIME], json_chunks=6))

    completion, _ = _ask(client, streaming, USER, tools=TOOLS, parallel_tool_calls=True)

    assert _message(completion).content == "Checking both."
    assert _calls(completion) == [
        (WEATHER.id, WEATHER.name, WEATHER.arguments),
        (TIME.id, TIME.name, TIME.arguments),
    ]
    assert completion.choices[0].finish_reason == "tool_calls"
    sent = fake.requests[-1].json()
    assert sent["parallel_tool_calls"] is True
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather", "get_time"]


@STREAMING
def test_tool_round_trip(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    fake.enqueue(
        _reply(streaming, "", tool_calls=[WEATHER]),
        _reply(streaming, "Paris: 21 °C, clear skies."),
    )
    first, _ = _ask(client, streaming, USER, tools=TOOLS)
    ((call_id, name, arguments),) = _calls(first)
    history: list[ChatCompletionMessageParam] = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": '{"temp_c": 21, "sky": "clear"}'},
    ]

    second, _ = _ask(client, streaming, history, tools=TOOLS)

    assert _message(second).content == "Paris: 21 °C, clear skies."
    assert second.choices[0].finish_reason == "stop"
    sent = fake.requests[-1].json()
    assert sent["messages"][-2]["tool_calls"][0]["id"] == WEATHER.id
    assert json.loads(sent["messages"][-2]["tool_calls"][0]["function"]["arguments"]) == WEATHER.arguments
    assert sent["messages"][-1] == {
        "role": "tool",
        "tool_call_id": WEATHER.id,
        "content": '{"temp_c": 21, "sky": "clear"}',
    }
    assert len(fake.requests) == 2
