"""The OpenAI SDK's Responses API through a real Luthien server.

Each case runs streaming (`responses.stream(...).get_final_response()`) and non-streaming
(`responses.create`), with the fake provider answering in the matching shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import openai
import orjson
import pytest
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseFunctionToolCall,
    ResponseInputParam,
    ResponseReasoningItem,
)

from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    Reply,
    StreamReply,
    ToolCall,
    response_object,
    responses_stream,
    split_text,
    sse_frame,
)
from tests.support.servers import LuthienServer

MODEL = "gpt-5.1-codex"
INPUT: ResponseInputParam = [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
    {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "What's the weather in Paris and the time in Tokyo?"}],
    },
]
ENCRYPTED = "gAAAAABpk3Zb" + "ZW5jcnlwdGVkLXJlYXNvbmluZw" * 20 + "=="

TOOLS: list[FunctionToolParam] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
            "required": ["city"],
        },
    },
    {
        "type": "function",
        "name": "get_time",
        "description": "Current local time in an IANA time zone.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
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


def _encrypt_reasoning(value: Any) -> Any:
    """Give every reasoning item in `value` an `encrypted_content`, as with `include=[...encrypted...]`."""
    if isinstance(value, list):
        return [_encrypt_reasoning(item) for item in cast(list[Any], value)]
    if isinstance(value, dict):
        fields = {key: _encrypt_reasoning(item) for key, item in cast(dict[str, Any], value).items()}
        if fields.get("type") == "reasoning":
            fields["encrypted_content"] = ENCRYPTED
        return fields
    return value


def _encrypt_frame(frame: bytes) -> bytes:
    event_line, data_line = frame.decode().removesuffix("\n\n").split("\n")
    data = orjson.loads(data_line.removeprefix("data: "))
    return sse_frame(event_line.removeprefix("event: "), _encrypt_reasoning(data))


def _reply(streaming: bool, text: str, *, text_chunks: int = 3, json_chunks: int = 5, **kwargs: Any) -> Reply:
    """The fake provider's answer, streamed (in that many deltas) or whole, with the same content.

    Reasoning items carry `encrypted_content`, as they do for a stateless (`store: false`) client.
    """
    if streaming:
        frames = responses_stream(text, text_chunks=text_chunks, json_chunks=json_chunks, **kwargs)
        return StreamReply([_encrypt_frame(frame) for frame in frames])
    return JSONReply(_encrypt_reasoning(response_object(text, **kwargs)))


Deltas = dict[str, list[str]]


def _ask(
    client: openai.OpenAI, streaming: bool, items: ResponseInputParam, **params: Any
) -> tuple[Response, Deltas]:
    """Call the API; return the final response and the streamed deltas.

    The deltas are the text, reasoning-summary and argument pieces the SDK saw, in order (none for
    `create`).
    """
    deltas: Deltas = {"text": [], "reasoning": [], "arguments": []}
    if not streaming:
        # `**params` hides which overload applies, so pyright cannot infer the type.
        response = cast(Response, client.responses.create(model=MODEL, input=items, **params))
        return response, deltas
    with client.responses.stream(model=MODEL, input=items, **params) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas["text"].append(event.delta)
            elif event.type == "response.reasoning_summary_text.delta":
                deltas["reasoning"].append(event.delta)
            elif event.type == "response.function_call_arguments.delta":
                deltas["arguments"].append(event.delta)
        return stream.get_final_response(), deltas


def _calls(response: Response) -> list[tuple[str, str, object]]:
    return [
        (item.call_id, item.name, json.loads(item.arguments))
        for item in response.output
        if isinstance(item, ResponseFunctionToolCall)
    ]


def _reasoning(response: Response) -> list[ResponseReasoningItem]:
    return [item for item in response.output if isinstance(item, ResponseReasoningItem)]


@STREAMING
def test_text(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    text = "Sunny in Paris — 21 °C. ☀️ Tokyo: 03:12."
    usage = {"input_tokens": 1234, "output_tokens": 56, "total_tokens": 1290}
    fake.enqueue(_reply(streaming, text, response_id="resp_TextAbCdEf", text_chunks=8, usage=usage))

    response, deltas = _ask(client, streaming, INPUT, store=False)

    assert response.output_text == text
    assert response.id == "resp_TextAbCdEf"
    assert response.status == "completed"
    assert [item.type for item in response.output] == ["message"]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1234, 56)
    assert response.usage.total_tokens == 1290
    if streaming:
        assert deltas["text"] == split_text(text, 8)
    sent = fake.requests[-1].json()
    assert sent.get("stream", False) is streaming
    assert (sent["input"], sent["store"]) == (INPUT, False)


@STREAMING
def test_reasoning_with_encrypted_content(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    summary = "**Planning** Paris weather first, then Tokyo — no tools needed."
    fake.enqueue(_reply(streaming, "Done.", reasoning=summary, text_chunks=4))

    response, deltas = _ask(
        client,
        streaming,
        INPUT,
        store=False,
        include=["reasoning.encrypted_content"],
        reasoning={"effort": "high", "summary": "auto"},
    )

    assert [item.type for item in response.output] == ["reasoning", "message"]
    (reasoning,) = _reasoning(response)
    assert [part.text for part in reasoning.summary] == [summary]
    assert reasoning.encrypted_content == ENCRYPTED
    assert response.output_text == "Done."
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    if streaming:
        assert deltas["reasoning"] == split_text(summary, 4)
    sent = fake.requests[-1].json()
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert sent["reasoning"] == {"effort": "high", "summary": "auto"}


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

    response, deltas = _ask(client, streaming, INPUT, tools=TOOLS)

    assert _calls(response) == [(call.id, "get_weather", arguments)]
    assert [item.type for item in response.output] == ["function_call"]
    if streaming:
        assert len(deltas["arguments"]) == 40
        assert json.loads("".join(deltas["arguments"])) == arguments


@STREAMING
def test_two_parallel_tool_calls(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    fake.enqueue(_reply(streaming, "Checking both.", tool_calls=[WEATHER, TIME], json_chunks=6))

    response, _ = _ask(client, streaming, INPUT, tools=TOOLS, parallel_tool_calls=True)

    assert response.output_text == "Checking both."
    assert _calls(response) == [
        (WEATHER.id, WEATHER.name, WEATHER.arguments),
        (TIME.id, TIME.name, TIME.arguments),
    ]
    sent = fake.requests[-1].json()
    assert sent["parallel_tool_calls"] is True
    assert [tool["name"] for tool in sent["tools"]] == ["get_weather", "get_time"]


@STREAMING
def test_tool_round_trip(client: openai.OpenAI, fake: FakeProvider, streaming: bool) -> None:
    fake.enqueue(
        _reply(streaming, "", reasoning="Need the weather tool.", tool_calls=[WEATHER]),
        _reply(streaming, "Paris: 21 °C, clear skies."),
    )
    params: dict[str, Any] = {"tools": TOOLS, "store": False, "include": ["reasoning.encrypted_content"]}
    first, _ = _ask(client, streaming, INPUT, **params)
    (reasoning,) = _reasoning(first)
    ((call_id, name, arguments),) = _calls(first)
    assert reasoning.encrypted_content is not None
    # A stateless client (Codex) sends the reasoning and the call back, then the call's output.
    follow_up: ResponseInputParam = [
        *INPUT,
        {
            "type": "reasoning",
            "id": reasoning.id,
            "summary": [{"type": "summary_text", "text": part.text} for part in reasoning.summary],
            "encrypted_content": reasoning.encrypted_content,
        },
        {"type": "function_call", "call_id": call_id, "name": name, "arguments": json.dumps(arguments)},
        {"type": "function_call_output", "call_id": call_id, "output": '{"temp_c": 21, "sky": "clear"}'},
    ]

    second, _ = _ask(client, streaming, follow_up, **params)

    assert second.output_text == "Paris: 21 °C, clear skies."
    sent = fake.requests[-1].json()
    assert sent["input"][: len(INPUT)] == INPUT
    reasoning_item, call_item, output_item = sent["input"][len(INPUT) :]
    assert reasoning_item["encrypted_content"] == ENCRYPTED
    assert reasoning_item["summary"] == [{"type": "summary_text", "text": "Need the weather tool."}]
    assert (call_item["type"], call_item["call_id"], call_item["name"]) == (
        "function_call",
        WEATHER.id,
        "get_weather",
    )
    assert json.loads(call_item["arguments"]) == WEATHER.arguments
    assert output_item == {
        "type": "function_call_output",
        "call_id": WEATHER.id,
        "output": '{"temp_c": 21, "sky": "clear"}',
    }
    assert len(fake.requests) == 2
