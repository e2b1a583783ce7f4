"""Every shipped policy x every client API x streaming and not, through a real server and the SDKs.

The fake provider answers with reasoning (thinking), text and a tool call. The official SDK must parse
the answer (`get_final_message()` / `get_final_completion()` / `get_final_response()` when
streaming), the text must be exactly what the policy makes of it, reasoning and the tool call must be
intact, and the `x-luthien-policy` response header must name the policy.

`pytest tests/e2e --policy=all_caps` runs the matrix for one policy only (see tests/policy_option.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai
import orjson
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

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import (
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
    sse_frame,
)
from tests.luthien_server import LuthienServer
from tests.policy_option import selected_policy

TEXT = "Paris is sunny, 21 °C today. Enjoy Paris!"
REASONING = "The user asks about Paris; check the weather in Paris first."
SIGNATURE = "EqQBCkYIBxgCKkDrA1" + "c2lnbmF0dXJl" * 12 + "=="
ARGUMENTS: dict[str, Any] = {"city": "Paris", "units": "metric"}
POLICY_HEADER = "x-luthien-policy"


@dataclass(frozen=True)
class PolicyCase:
    """A shipped policy as the matrix runs it: its configured name and what it does to the text."""

    name: str
    expected_text: Callable[[str], str]


def _replace(text: str) -> str:
    return text.replace("Paris", "Lyon").replace("21 °C", "warm")


POLICY_CASES = [
    PolicyCase("noop", lambda text: text),
    PolicyCase("all_caps", str.upper),
    PolicyCase("string_replace", _replace),
    PolicyCase("debug_logging", lambda text: text),
    PolicyCase("chain", lambda text: _replace(text).upper()),
]
CONFIG = LuthienConfig.model_validate(
    {
        "policies": {
            "string_replace": {
                "class": "string_replace",
                "config": {
                    "replacements": [
                        {"find": "Paris", "replace": "Lyon"},
                        {"find": r"\d+ °C", "replace": "warm", "regex": True},
                    ],
                    "holdback_chars": 8,
                },
            },
            "chain": {"class": "chain", "config": {"policies": ["string_replace", "all_caps"]}},
        }
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `policy_case` over every shipped policy, or only the one `--policy` names."""
    if "policy_case" not in metafunc.fixturenames:
        return
    chosen = selected_policy(metafunc.config)
    cases = [case for case in POLICY_CASES if chosen is None or case.name == chosen]
    if not cases:
        known = ", ".join(case.name for case in POLICY_CASES)
        raise pytest.UsageError(f"--policy={chosen}: not a policy of the matrix ({known})")
    metafunc.parametrize("policy_case", cases, ids=[case.name for case in cases])


STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["stream", "whole"])


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
def server(make_luthien: LuthienFactory, policy_case: PolicyCase) -> LuthienServer:
    return make_luthien(config=CONFIG, test_policy=policy_case.name)


@pytest.fixture
def headers() -> Headers:
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
def anthropic_client(server: LuthienServer, headers: Headers) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=server.base_url, api_key="sk-ant-client", max_retries=0, http_client=headers.client()
    ) as client:
        yield client


def _anthropic_reply(streaming: bool) -> Reply:
    kwargs: dict[str, Any] = {"thinking": REASONING, "signature": SIGNATURE, "tool_calls": [ANTHROPIC_CALL]}
    if streaming:
        return StreamReply(anthropic_stream(TEXT, text_chunks=7, json_chunks=4, **kwargs))
    return JSONReply(anthropic_message(TEXT, **kwargs))


@STREAMING
def test_anthropic_messages(
    anthropic_client: anthropic.Anthropic,
    fake: FakeProvider,
    headers: Headers,
    policy_case: PolicyCase,
    streaming: bool,
) -> None:
    fake.enqueue(_anthropic_reply(streaming))
    thinking_param: ThinkingConfigParam = {"type": "enabled", "budget_tokens": 1024}

    message: Message
    if streaming:
        with anthropic_client.messages.stream(
            model=ANTHROPIC_MODEL,
            max_tokens=2048,
            messages=ANTHROPIC_USER,
            thinking=thinking_param,
            tools=ANTHROPIC_TOOLS,
        ) as stream:
            message = stream.get_final_message()
    else:
        message = anthropic_client.messages.create(
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
    assert text.text == policy_case.expected_text(TEXT)
    assert isinstance(tool, ToolUseBlock)
    assert (tool.id, tool.name, tool.input) == (ANTHROPIC_CALL.id, "get_weather", ARGUMENTS)
    assert message.stop_reason == "tool_use"
    assert headers.last[POLICY_HEADER] == policy_case.name
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
def openai_client(server: LuthienServer, headers: Headers) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=f"{server.base_url}/v1", api_key="sk-client", max_retries=0, http_client=headers.client()
    ) as client:
        yield client


def _chat_reply(streaming: bool) -> Reply:
    """Reasoning (`reasoning_content`, as DeepSeek-style servers send it), text, a tool call."""
    if not streaming:
        body = chat_completion(TEXT, tool_calls=[CHAT_CALL])
        body["choices"][0]["message"]["reasoning_content"] = REASONING
        return JSONReply(body)
    frames = chat_stream(TEXT, tool_calls=[CHAT_CALL], text_chunks=7, json_chunks=4)
    envelope: dict[str, Any] = orjson.loads(frames[0].removeprefix(b"data: "))
    reasoning = [
        sse_frame(
            None,
            {
                **envelope,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"reasoning_content": piece},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            },
        )
        for piece in (REASONING[:20], REASONING[20:])
    ]
    return StreamReply([frames[0], *reasoning, *frames[1:]])


@STREAMING
def test_openai_chat(
    openai_client: openai.OpenAI,
    fake: FakeProvider,
    headers: Headers,
    policy_case: PolicyCase,
    streaming: bool,
) -> None:
    fake.enqueue(_chat_reply(streaming))
    messages: Any = [{"role": "user", "content": "Weather in Paris?"}]

    completion: ChatCompletion
    if streaming:
        with openai_client.chat.completions.stream(
            model=OPENAI_MODEL, messages=messages, tools=CHAT_TOOLS, stream_options={"include_usage": True}
        ) as stream:
            completion = stream.get_final_completion()
    else:
        completion = openai_client.chat.completions.create(
            model=OPENAI_MODEL, messages=messages, tools=CHAT_TOOLS
        )

    (choice,) = completion.choices
    assert choice.message.content == policy_case.expected_text(TEXT)
    assert (choice.message.model_extra or {}).get("reasoning_content") == REASONING
    (call,) = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        CHAT_CALL.id,
        "get_weather",
        ARGUMENTS,
    )
    assert choice.finish_reason == "tool_calls"
    assert headers.last[POLICY_HEADER] == policy_case.name


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
    openai_client: openai.OpenAI,
    fake: FakeProvider,
    headers: Headers,
    policy_case: PolicyCase,
    streaming: bool,
) -> None:
    fake.enqueue(_responses_reply(streaming))

    response: Response
    if streaming:
        with openai_client.responses.stream(
            model=OPENAI_MODEL, input="Weather in Paris?", tools=RESPONSES_TOOLS
        ) as stream:
            response = stream.get_final_response()
    else:
        response = openai_client.responses.create(
            model=OPENAI_MODEL, input="Weather in Paris?", tools=RESPONSES_TOOLS
        )

    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    reasoning, _, call = response.output
    assert isinstance(reasoning, ResponseReasoningItem)
    assert [part.text for part in reasoning.summary] == [REASONING]
    assert response.output_text == policy_case.expected_text(TEXT)
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.call_id, call.name, json.loads(call.arguments)) == (CHAT_CALL.id, "get_weather", ARGUMENTS)
    assert response.status == "completed"
    assert headers.last[POLICY_HEADER] == policy_case.name
