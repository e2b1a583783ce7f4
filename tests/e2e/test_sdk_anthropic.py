"""The Anthropic SDK through a real Luthien server: text, thinking, tool calls, a tool round trip.

Each case runs streaming (`messages.stream(...).get_final_message()`) and non-streaming
(`messages.create`), with the fake provider answering in the matching shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import anthropic
import pytest
from anthropic.types import (
    Message,
    MessageParam,
    TextBlock,
    ThinkingBlock,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
)

from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    Reply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
)
from tests.support.servers import LuthienServer

MODEL = "claude-sonnet-4-6"
USER: list[MessageParam] = [{"role": "user", "content": "What's the weather in Paris and the time in Tokyo?"}]
SIGNATURE = "EqQBCkYIBxgCKkDrA1" + "c2lnbmF0dXJl" * 30 + "=="

WEATHER_TOOL: ToolParam = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "units": {"type": "string", "enum": ["metric", "imperial"]},
        },
        "required": ["city"],
    },
}
TIME_TOOL: ToolParam = {
    "name": "get_time",
    "description": "Current local time in an IANA time zone.",
    "input_schema": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    },
}
TOOLS = [WEATHER_TOOL, TIME_TOOL]

WEATHER = ToolCall("toolu_01WeatherAbCdEfGhIjKlMn", "get_weather", {"city": "Paris", "units": "metric"})
TIME = ToolCall("toolu_01TimeAbCdEfGhIjKlMnOp", "get_time", {"timezone": "Asia/Tokyo"})

STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["stream", "create"])


@pytest.fixture
def client(luthien: LuthienServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=luthien.base_url, api_key="sk-ant-client", max_retries=0) as sdk:
        yield sdk


def _reply(streaming: bool, text: str, *, text_chunks: int = 3, json_chunks: int = 5, **kwargs: Any) -> Reply:
    """The fake provider's answer, streamed (in that many deltas) or whole, with the same content."""
    if streaming:
        return StreamReply(anthropic_stream(text, text_chunks=text_chunks, json_chunks=json_chunks, **kwargs))
    return JSONReply(anthropic_message(text, **kwargs))


def _ask(
    client: anthropic.Anthropic, streaming: bool, messages: list[MessageParam], **params: Any
) -> tuple[Message, list[str]]:
    """Call the API; return the final message and, when streaming, the SDK's event types in order."""
    if streaming:
        with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages, **params) as stream:
            kinds = [event.type for event in stream]
            return stream.get_final_message(), kinds
    # `**params` hides which overload applies, so pyright cannot infer the type.
    message = cast(Message, client.messages.create(model=MODEL, max_tokens=1024, messages=messages, **params))
    return message, []


def _texts(message: Message) -> list[str]:
    return [block.text for block in message.content if isinstance(block, TextBlock)]


def _tool_uses(message: Message) -> list[tuple[str, str, object]]:
    return [
        (block.id, block.name, block.input) for block in message.content if isinstance(block, ToolUseBlock)
    ]


def _assert_upstream_streaming(fake: FakeProvider, streaming: bool) -> None:
    body = fake.requests[-1].json()
    assert body.get("stream", False) is streaming


@STREAMING
def test_text(client: anthropic.Anthropic, fake: FakeProvider, streaming: bool) -> None:
    text = "It is sunny in Paris — 21 °C. ☀️ Tokyo is at 03:12."
    fake.enqueue(
        _reply(
            streaming,
            text,
            message_id="msg_01TextAbCdEfGhIjKlMnOpQr",
            text_chunks=8,
            usage={"input_tokens": 1234, "output_tokens": 56, "cache_read_input_tokens": 1000},
        )
    )

    message, kinds = _ask(client, streaming, USER)

    assert _texts(message) == [text]
    assert message.id == "msg_01TextAbCdEfGhIjKlMnOpQr"
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 1234
    assert message.usage.output_tokens == 56
    assert message.usage.cache_read_input_tokens == 1000
    if streaming:
        assert kinds.count("text") == 8
    _assert_upstream_streaming(fake, streaming)
    assert fake.requests[-1].json()["messages"] == USER


@STREAMING
def test_stop_sequence(client: anthropic.Anthropic, fake: FakeProvider, streaming: bool) -> None:
    fake.enqueue(_reply(streaming, "Line one", stop_reason="stop_sequence", stop_sequence="\n\n"))

    message, _ = _ask(client, streaming, USER, stop_sequences=["\n\n"])

    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "\n\n")
    assert fake.requests[-1].json()["stop_sequences"] == ["\n\n"]


@STREAMING
def test_thinking_with_signature(client: anthropic.Anthropic, fake: FakeProvider, streaming: bool) -> None:
    thinking = "The user wants two facts. Paris weather first, then Tokyo time — both need tools? No: answer."
    fake.enqueue(_reply(streaming, "Here you go.", thinking=thinking, signature=SIGNATURE, text_chunks=5))

    message, kinds = _ask(client, streaming, USER, thinking={"type": "enabled", "budget_tokens": 2048})

    assert [block.type for block in message.content] == ["thinking", "text"]
    block = message.content[0]
    assert isinstance(block, ThinkingBlock)
    assert (block.thinking, block.signature) == (thinking, SIGNATURE)
    assert _texts(message) == ["Here you go."]
    if streaming:
        assert (kinds.count("thinking"), kinds.count("signature")) == (5, 1)
    assert fake.requests[-1].json()["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@STREAMING
def test_tool_call_arguments_split_over_many_deltas(
    client: anthropic.Anthropic, fake: FakeProvider, streaming: bool
) -> None:
    arguments: dict[str, Any] = {
        "file_path": "/srv/app/main.py",
        "old_string": 'print("héllo")\n\tif x:\n',
        "new_string": 'print("hello, wörld 🌍")\n\tif x and y:\n',
        "replace_all": False,
        "nested": {"list": [1, 2.5, None, True], "quote": 'say "hi"', "backslash": "C:\\temp"},
    }
    call = ToolCall("toolu_01EditAbCdEfGhIjKlMnOpQ", "Edit", arguments)
    fake.enqueue(_reply(streaming, "", tool_calls=[call], json_chunks=40))

    message, kinds = _ask(client, streaming, USER, tools=TOOLS)

    assert _tool_uses(message) == [(call.id, "Edit", arguments)]
    assert message.stop_reason == "tool_use"
    if streaming:
        assert kinds.count("input_json") == 40


@STREAMING
def test_two_parallel_tool_calls(client: anthropic.Anthropic, fake: FakeProvider, streaming: bool) -> None:
    fake.enqueue(_reply(streaming, "Let me check both.", tool_calls=[WEATHER, TIME], json_chunks=6))

    message, kinds = _ask(client, streaming, USER, tools=TOOLS)

    assert _texts(message) == ["Let me check both."]
    assert _tool_uses(message) == [
        (WEATHER.id, WEATHER.name, WEATHER.arguments),
        (TIME.id, TIME.name, TIME.arguments),
    ]
    assert message.stop_reason == "tool_use"
    if streaming:
        assert kinds.count("input_json") == 12
    assert [tool["name"] for tool in fake.requests[-1].json()["tools"]] == ["get_weather", "get_time"]


@STREAMING
def test_tool_round_trip(client: anthropic.Anthropic, fake: FakeProvider, streaming: bool) -> None:
    fake.enqueue(
        _reply(
            streaming,
            "Checking.",
            thinking="Need the weather tool.",
            signature=SIGNATURE,
            tool_calls=[WEATHER],
        ),
        _reply(streaming, "Paris: 21 °C, clear skies."),
    )
    first, _ = _ask(client, streaming, USER, tools=TOOLS)
    tool_result: ToolResultBlockParam = {
        "type": "tool_result",
        "tool_use_id": WEATHER.id,
        "content": [{"type": "text", "text": '{"temp_c": 21, "sky": "clear"}'}],
        "is_error": False,
    }
    history: list[MessageParam] = [
        *USER,
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [tool_result]},
    ]

    second, _ = _ask(client, streaming, history, tools=TOOLS)

    assert _texts(second) == ["Paris: 21 °C, clear skies."]
    assert second.stop_reason == "end_turn"
    sent = fake.requests[-1].json()
    assert sent["messages"][0] == USER[0]
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Need the weather tool.", "signature": SIGNATURE},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": WEATHER.id, "name": WEATHER.name, "input": WEATHER.arguments},
        ],
    }
    assert sent["messages"][2] == {"role": "user", "content": [tool_result]}
    assert len(fake.requests) == 2


def test_count_tokens(client: anthropic.Anthropic, fake: FakeProvider) -> None:
    fake.enqueue(JSONReply({"input_tokens": 321}))

    counted = client.messages.count_tokens(model=MODEL, messages=USER, tools=TOOLS)

    assert counted.input_tokens == 321
    received = fake.requests[-1]
    assert received.path == "/v1/messages/count_tokens"
    assert received.json() == {"model": MODEL, "messages": USER, "tools": TOOLS}
