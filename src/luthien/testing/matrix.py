"""The client matrix: a policy x every client API x streaming and not, through a real server and the SDKs.

Collected by the pytest plugin when `--policy` is given (see `luthien.testing.plugin`). The fake
provider answers with reasoning (thinking), text and a tool call. The official SDK must parse the
answer (`get_final_message()` / `get_final_completion()` / `get_final_response()` when streaming),
the text must be what the policy makes of it (`pytest_luthien_expected_text`), reasoning and the tool
call must be intact, and the `x-luthien-policy` response header must name the policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from anthropic.types import (
    Message,
    MessageParam,
    TextBlock,
    ThinkingBlock,
    ThinkingConfigParam,
    ToolParam,
    ToolUseBlock,
)
from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall, ChatCompletionToolParam
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseFunctionToolCall,
    ResponseReasoningItem,
)

from luthien.testing.fake_provider import (
    FakeProvider,
    JSONReply,
    Reply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    response_object,
    responses_stream,
)
from luthien.testing.plugin import PolicyUnderTest
from luthien.testing.server import LuthienServer

TEXT = "Paris is sunny, 21 °C today. Enjoy Paris!"
REASONING = "The user asks about Paris; check the weather in Paris first."
SIGNATURE = "EqQBCkYIBxgCKkDrA1" + "c2lnbmF0dXJl" * 12 + "=="
ARGUMENTS: dict[str, Any] = {"city": "Paris", "units": "metric"}
POLICY_HEADER = "x-luthien-policy"
ExpectedText = Callable[[str], str]

STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["stream", "whole"])


__all__ = [
    "matrix_anthropic_client",
    "matrix_headers",
    "matrix_openai_client",
    "test_anthropic_messages",
    "test_openai_chat",
    "test_openai_responses",
]


class Headers:
    """Collects the response headers of every call an SDK client makes."""

    def __init__(self) -> None:
        self.seen: list[httpx2.Headers] = []

    def hook(self, response: httpx2.Response) -> None:
        self.seen.append(response.headers)

    def client(self) -> httpx2.Client:
        return httpx2.Client(event_hooks={"response": [self.hook]})

    @property
    def last(self) -> httpx2.Headers:
        return self.seen[-1]


@pytest.fixture
def matrix_headers() -> Headers:
    """Records the response headers of the SDK clients' calls."""
    return Headers()


# --- Anthropic Messages -----------------------------------------------------------------------

ANTHROPIC_MODEL = "claude-sonnet-4-6"
ANTHROPIC_CALL = ToolCall("toolu_01MatrixAbCdEfGhIjKlMn", "get_weather", ARGUMENTS)
ANTHROPIC_TOOLS: list[ToolParam] = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
ANTHROPIC_USER: list[MessageParam] = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def matrix_anthropic_client(
    luthien_matrix_server: LuthienServer, matrix_headers: Headers
) -> Iterator[anthropic.Anthropic]:
    """The Anthropic SDK, pointed at the server under test."""
    with anthropic.Anthropic(
        base_url=luthien_matrix_server.base_url,
        api_key="sk-ant-client",
        max_retries=0,
        http_client=matrix_headers.client(),
    ) as client:
        yield client


def _anthropic_reply(streaming: bool) -> Reply:
    kwargs: dict[str, Any] = {"thinking": REASONING, "signature": SIGNATURE, "tool_calls": [ANTHROPIC_CALL]}
    if streaming:
        return StreamReply(anthropic_stream(TEXT, text_chunks=7, json_chunks=4, **kwargs))
    return JSONReply(anthropic_message(TEXT, **kwargs))


@STREAMING
def test_anthropic_messages(
    matrix_anthropic_client: anthropic.Anthropic,
    fake: FakeProvider,
    matrix_headers: Headers,
    luthien_policy: PolicyUnderTest,
    luthien_expected_text: ExpectedText,
    streaming: bool,
) -> None:
    """Anthropic Messages: thinking, text and a tool call, parsed by the SDK."""
    fake.enqueue(_anthropic_reply(streaming))
    thinking_param: ThinkingConfigParam = {"type": "enabled", "budget_tokens": 1024}

    message: Message
    if streaming:
        with matrix_anthropic_client.messages.stream(
            model=ANTHROPIC_MODEL,
            max_tokens=2048,
            messages=ANTHROPIC_USER,
            thinking=thinking_param,
            tools=ANTHROPIC_TOOLS,
        ) as stream:
            message = stream.get_final_message()
    else:
        message = matrix_anthropic_client.messages.create(
            model=ANTHROPIC_MODEL,
            max_tokens=2048,
            messages=ANTHROPIC_USER,
            thinking=thinking_param,
            tools=ANTHROPIC_TOOLS,
        )

    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = message.content
    assert isinstance(thinking, ThinkingBlock)
    assert (thinking.thinking, thinking.signature) == (REASONING, SIGNATURE)
    assert isinstance(text, TextBlock)
    assert text.text == luthien_expected_text(TEXT)
    assert isinstance(tool, ToolUseBlock)
    assert (tool.id, tool.name, tool.input) == (ANTHROPIC_CALL.id, "get_weather", ARGUMENTS)
    assert message.stop_reason == "tool_use"
    assert matrix_headers.last[POLICY_HEADER] == luthien_policy.name
    assert fake.requests[-1].json()["messages"] == ANTHROPIC_USER


# --- OpenAI Chat Completions ------------------------------------------------------------------

OPENAI_MODEL = "gpt-5"
CHAT_CALL = ToolCall("call_MatrixAbCdEfGhIjKlMnOpQr", "get_weather", ARGUMENTS)
CHAT_TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def matrix_openai_client(
    luthien_matrix_server: LuthienServer, matrix_headers: Headers
) -> Iterator[openai.OpenAI]:
    """The OpenAI SDK, pointed at the server under test."""
    with openai.OpenAI(
        base_url=f"{luthien_matrix_server.base_url}/v1",
        api_key="sk-client",
        max_retries=0,
        http_client=matrix_headers.client(),
    ) as client:
        yield client


def _chat_reply(streaming: bool) -> Reply:
    """Reasoning (`reasoning_content`, as DeepSeek-style servers send it), text, a tool call."""
    if not streaming:
        return JSONReply(chat_completion(TEXT, reasoning=REASONING, tool_calls=[CHAT_CALL]))
    return StreamReply(
        chat_stream(TEXT, reasoning=REASONING, tool_calls=[CHAT_CALL], text_chunks=7, json_chunks=4)
    )


@STREAMING
def test_openai_chat(
    matrix_openai_client: openai.OpenAI,
    fake: FakeProvider,
    matrix_headers: Headers,
    luthien_policy: PolicyUnderTest,
    luthien_expected_text: ExpectedText,
    streaming: bool,
) -> None:
    """OpenAI Chat Completions: reasoning, text and a tool call, parsed by the SDK."""
    fake.enqueue(_chat_reply(streaming))
    messages: Any = [{"role": "user", "content": "Weather in Paris?"}]

    completion: ChatCompletion
    if streaming:
        with matrix_openai_client.chat.completions.stream(
            model=OPENAI_MODEL, messages=messages, tools=CHAT_TOOLS, stream_options={"include_usage": True}
        ) as stream:
            completion = stream.get_final_completion()
    else:
        completion = matrix_openai_client.chat.completions.create(
            model=OPENAI_MODEL, messages=messages, tools=CHAT_TOOLS
        )

    (choice,) = completion.choices
    assert choice.message.content == luthien_expected_text(TEXT)
    assert (choice.message.model_extra or {}).get("reasoning_content") == REASONING
    (call,) = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        CHAT_CALL.id,
        "get_weather",
        ARGUMENTS,
    )
    assert choice.finish_reason == "tool_calls"
    assert matrix_headers.last[POLICY_HEADER] == luthien_policy.name


# --- OpenAI Responses -------------------------------------------------------------------------

RESPONSES_TOOLS: list[FunctionToolParam] = [
    {
        "type": "function",
        "name": "get_weather",
        "strict": False,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


def _responses_reply(streaming: bool) -> Reply:
    kwargs: dict[str, Any] = {"reasoning": REASONING, "tool_calls": [CHAT_CALL]}
    if streaming:
        return StreamReply(responses_stream(TEXT, text_chunks=7, json_chunks=4, **kwargs))
    return JSONReply(response_object(TEXT, **kwargs))


@STREAMING
def test_openai_responses(
    matrix_openai_client: openai.OpenAI,
    fake: FakeProvider,
    matrix_headers: Headers,
    luthien_policy: PolicyUnderTest,
    luthien_expected_text: ExpectedText,
    streaming: bool,
) -> None:
    """OpenAI Responses: reasoning, text and a function call, parsed by the SDK."""
    fake.enqueue(_responses_reply(streaming))

    response: Response
    if streaming:
        with matrix_openai_client.responses.stream(
            model=OPENAI_MODEL, input="Weather in Paris?", tools=RESPONSES_TOOLS
        ) as stream:
            response = stream.get_final_response()
    else:
        response = matrix_openai_client.responses.create(
            model=OPENAI_MODEL, input="Weather in Paris?", tools=RESPONSES_TOOLS
        )

    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    reasoning, _, call = response.output
    assert isinstance(reasoning, ResponseReasoningItem)
    assert [part.text for part in reasoning.summary] == [REASONING]
    assert response.output_text == luthien_expected_text(TEXT)
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.call_id, call.name, json.loads(call.arguments)) == (CHAT_CALL.id, "get_weather", ARGUMENTS)
    assert response.status == "completed"
    assert matrix_headers.last[POLICY_HEADER] == luthien_policy.name
