"""Calls to every client API through a real Luthien server, read back in one shape, and a scripted judge.

`request_for` / `call_luthien` make a call on the Anthropic, Chat or Responses API, streaming or not;
`outcome_of` reads what the client received as text items, tool calls and a stop reason, whatever the
API. `model_reply` scripts the model's answer in any API; `verdict` and `judge_config` script and
configure a judge upstream in either format. Shared by the judge, defer, resample, replay, shadow and
records tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest

from luthien.config import LuthienConfig
from tests.fake_provider import (
    JSONReply,
    ReceivedRequest,
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
from tests.support.codec_streams import sse_data
from tests.support.servers import LuthienServer

Api = Literal["anthropic", "chat", "responses"]
JudgeFormat = Literal["anthropic", "openai"]

GUARD_S = 30.0
"""Deadlock guard for events and barriers; never reached when the code under test works."""
CLIENT_TIMEOUT_S = 3 * GUARD_S
JUDGE_MODEL = "judge-model"
CLIENT_KEY = "sk-client-key"
PATHS: dict[Api, str] = {
    "anthropic": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}
JUDGE_PATHS: dict[JudgeFormat, str] = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}
TOOL_STOP: dict[Api, str] = {"anthropic": "tool_use", "chat": "tool_calls", "responses": "completed"}
END_STOP: dict[Api, str] = {"anthropic": "end_turn", "chat": "stop", "responses": "completed"}

ALL_CLIENTS = pytest.mark.parametrize(
    ("api", "stream"),
    [
        pytest.param("anthropic", True, id="anthropic-stream"),
        pytest.param("anthropic", False, id="anthropic-create"),
        pytest.param("chat", True, id="chat-stream"),
        pytest.param("chat", False, id="chat-create"),
        pytest.param("responses", True, id="responses-stream"),
        pytest.param("responses", False, id="responses-create"),
    ],
)
STREAMING_CLIENTS = pytest.mark.parametrize("api", ["anthropic", "chat", "responses"])
JUDGE_FORMATS = pytest.mark.parametrize("judge_format", ["anthropic", "openai"])

RM = ToolCall("toolu_01RmRfRoot", "Bash", {"command": "rm -rf /", "description": "wipe"})
LS = ToolCall("toolu_01ListFiles", "Bash", {"command": "ls -la", "description": "list files"})
READ = ToolCall("toolu_01ReadReadme", "Read", {"file_path": "README.md"})

PINNED_BLOCKED_RM = (
    "⛔ **Blocked tool call: `Bash`**\n"
    "\n"
    "Deletes the whole filesystem.\n"
    "\n"
    "Risk: 0.93 (blocked at 0.50 or above)\n"
    "\n"
    "Arguments:\n"
    "\n"
    "```json\n"
    "{\n"
    '  "command": "rm -rf /",\n'
    '  "description": "wipe"\n'
    "}\n"
    "```\n"
)
BLOCKED_HEADLINE = "⛔ **Blocked tool call: `Bash`**"


# -- what the client received, in one shape for every API ------------------------------------------


@dataclass
class Text:
    text: str


@dataclass
class Call:
    id: str
    name: str
    arguments: str

    def parsed(self) -> Any:
        return json.loads(self.arguments)


Item = Text | Call


@dataclass
class Outcome:
    """Content in order (text blocks / output items, tool calls) and the stop reason."""

    items: list[Item]
    stop: str
    raw_texts: list[str] = field(default_factory=list[str])

    @property
    def text(self) -> str:
        # Text blocks are separated by a blank line (Chat's one content string carries the same).
        return "\n\n".join(item.text for item in self.items if isinstance(item, Text))

    @property
    def calls(self) -> list[Call]:
        return [item for item in self.items if isinstance(item, Call)]


def anthropic_stream_outcome(events: list[dict[str, Any]]) -> Outcome:
    items: list[Item] = []
    at: dict[int, Item] = {}
    stop = ""
    for event in events:
        if event["type"] == "content_block_start":
            block = event["content_block"]
            item: Item = (
                Call(block["id"], block["name"], "") if block["type"] == "tool_use" else Text(block["text"])
            )
            at[event["index"]] = item
            items.append(item)
        elif event["type"] == "content_block_delta":
            delta, target = event["delta"], at[event["index"]]
            if isinstance(target, Text) and delta["type"] == "text_delta":
                target.text += delta["text"]
            elif isinstance(target, Call) and delta["type"] == "input_json_delta":
                target.arguments += delta["partial_json"]
        elif event["type"] == "message_delta":
            stop = event["delta"]["stop_reason"]
    return Outcome(items, stop)


def anthropic_body_outcome(body: dict[str, Any]) -> Outcome:
    items: list[Item] = []
    for block in body["content"]:
        if block["type"] == "text":
            items.append(Text(block["text"]))
        elif block["type"] == "tool_use":
            items.append(Call(block["id"], block["name"], json.dumps(block["input"])))
    return Outcome(items, body["stop_reason"])


def chat_stream_outcome(chunks: list[dict[str, Any]]) -> Outcome:
    text = ""
    calls: dict[int, Call] = {}
    stop = ""
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            parts: list[dict[str, Any]] = delta.get("tool_calls") or []
            for part in parts:
                call = calls.setdefault(part["index"], Call("", "", ""))
                function: dict[str, Any] = part.get("function") or {}
                call.id = part.get("id") or call.id
                call.name = function.get("name") or call.name
                call.arguments += function.get("arguments") or ""
            stop = choice.get("finish_reason") or stop
    return Outcome([*([Text(text)] if text else []), *(calls[i] for i in sorted(calls))], stop)


def chat_body_outcome(body: dict[str, Any]) -> Outcome:
    (choice,) = body["choices"]
    message = choice["message"]
    items: list[Item] = [Text(message["content"])] if message.get("content") else []
    tool_calls: list[dict[str, Any]] = message.get("tool_calls") or []
    items.extend(
        Call(call["id"], call["function"]["name"], call["function"]["arguments"]) for call in tool_calls
    )
    return Outcome(items, choice["finish_reason"])


def responses_items(output: list[dict[str, Any]]) -> list[Item]:
    items: list[Item] = []
    for item in output:
        if item["type"] == "message":
            items.append(Text("".join(part["text"] for part in item["content"])))
        elif item["type"] == "function_call":
            items.append(Call(item["call_id"], item["name"], item["arguments"]))
    return items


def responses_stream_outcome(events: list[dict[str, Any]]) -> Outcome:
    items: list[Item] = []
    at: dict[int, Item] = {}
    final: dict[str, Any] | None = None
    for event in events:
        kind = event["type"]
        if kind == "response.output_item.added":
            added = event["item"]
            if added["type"] in ("message", "function_call"):
                item: Item = (
                    Text("") if added["type"] == "message" else Call(added["call_id"], added["name"], "")
                )
                at[event["output_index"]] = item
                items.append(item)
        elif kind == "response.output_text.delta":
            target = at[event["output_index"]]
            assert isinstance(target, Text)
            target.text += event["delta"]
        elif kind == "response.function_call_arguments.delta":
            target = at[event["output_index"]]
            assert isinstance(target, Call)
            target.arguments += event["delta"]
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            final = event["response"]
    assert final is not None, "the stream has no terminal response event"
    # The terminal event's output must say what the deltas said.
    assert responses_items(final["output"]) == items
    return Outcome(items, final["status"])


STREAM_OUTCOMES: dict[Api, Callable[[list[dict[str, Any]]], Outcome]] = {
    "anthropic": anthropic_stream_outcome,
    "chat": chat_stream_outcome,
    "responses": responses_stream_outcome,
}
"""How each API's streamed events (`sse_data`) read as an outcome."""


def outcome_of(api: Api, stream: bool, response: httpx.Response) -> Outcome:
    assert response.status_code == 200, response.text
    if stream:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_data(response.text)
        parse = {
            "anthropic": anthropic_stream_outcome,
            "chat": chat_stream_outcome,
            "responses": responses_stream_outcome,
        }[api]
        return parse(events)
    body: dict[str, Any] = response.json()
    if api == "anthropic":
        return anthropic_body_outcome(body)
    if api == "chat":
        return chat_body_outcome(body)
    return Outcome(responses_items(body["output"]), body["status"])


def assert_call(actual: Call, expected: ToolCall) -> None:
    assert actual.id == expected.id
    assert actual.name == expected.name
    assert actual.parsed() == expected.arguments


# -- talking to the server and scripting the model -------------------------------------------------

Conversation = Sequence[tuple[str, str]]
DEFAULT_CONVERSATION: Conversation = (("user", "Please tidy up the repository."),)


def request_for(api: Api, stream: bool, conversation: Conversation) -> tuple[dict[str, Any], dict[str, str]]:
    messages = [{"role": role, "content": text} for role, text in conversation]
    if api == "anthropic":
        body: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 1024, "messages": messages}
        headers = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
    elif api == "chat":
        body = {"model": "gpt-5", "messages": messages}
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    else:
        body = {"model": "gpt-5", "input": messages}
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    return {**body, "stream": stream}, headers


def call_luthien(
    server: LuthienServer, api: Api, stream: bool, conversation: Conversation = DEFAULT_CONVERSATION
) -> Outcome:
    body, headers = request_for(api, stream, conversation)
    response = httpx.post(server.base_url + PATHS[api], json=body, headers=headers, timeout=CLIENT_TIMEOUT_S)
    return outcome_of(api, stream, response)


def model_frames(api: Api, text: str, calls: Sequence[ToolCall]) -> list[bytes]:
    if api == "anthropic":
        return anthropic_stream(text, tool_calls=calls)
    if api == "chat":
        return chat_stream(text, tool_calls=calls)
    return responses_stream(text, tool_calls=calls)


def model_reply(api: Api, stream: bool, text: str, calls: Sequence[ToolCall]) -> Reply:
    if stream:
        return StreamReply(model_frames(api, text, calls))
    if api == "anthropic":
        return JSONReply(anthropic_message(text, tool_calls=calls))
    if api == "chat":
        return JSONReply(chat_completion(text, tool_calls=calls))
    return JSONReply(response_object(text, tool_calls=calls))


# -- the judge upstream ----------------------------------------------------------------------------


def judge_base_url(base_url: str, judge_format: JudgeFormat) -> str:
    # An OpenAI-format upstream is configured the OpenAI SDK way, with `/v1`.
    return base_url if judge_format == "anthropic" else f"{base_url}/v1"


def judge_config(
    base_url: str,
    judge_format: JudgeFormat = "anthropic",
    *,
    policy_class: str = "tool_call_judge",
    api_key: str | None = None,
    **options: Any,
) -> LuthienConfig:
    upstream: dict[str, Any] = {"format": judge_format, "base_url": judge_base_url(base_url, judge_format)}
    if api_key is not None:
        upstream["api_key"] = api_key
    policy_config = {"judge": {"upstream": "judge", "model": JUDGE_MODEL}, **options}
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": upstream},
            "policies": {"guard": {"class": policy_class, "config": policy_config}},
            "policy": "guard",
        }
    )


def judge_body(judge_format: JudgeFormat, text: str) -> dict[str, Any]:
    if judge_format == "anthropic":
        return anthropic_message(text, model=JUDGE_MODEL)
    return chat_completion(text, model=JUDGE_MODEL)


def judge_says(judge_format: JudgeFormat, text: str) -> JSONReply:
    return JSONReply(judge_body(judge_format, text))


def verdict_text(probability: float, explanation: str) -> str:
    return json.dumps({"probability": probability, "explanation": explanation})


def verdict(judge_format: JudgeFormat, probability: float, explanation: str = "Looks fine.") -> JSONReply:
    return judge_says(judge_format, f"```json\n{verdict_text(probability, explanation)}\n```")


def judge_user_text(request: ReceivedRequest) -> str:
    """The judge prompt (the user message) of a judge request, in either format."""
    content = request.json()["messages"][-1]["content"]
    assert isinstance(content, str)
    return content


def decisions(server: LuthienServer, type: str = "judge.decision") -> list[dict[str, Any]]:
    return [event.data for event in server.app.state.gateway.activity.events(type=type)]


def assert_decision(
    data: dict[str, Any],
    *,
    call: ToolCall,
    blocked: bool,
    probability: float,
    error: str | None = None,
    threshold: float = 0.5,
) -> None:
    assert data["tool"] == call.name
    assert data["tool_call_id"] == call.id
    assert data["blocked"] is blocked
    assert data["probability"] == probability
    assert data["error"] == error
    assert data["model"] == JUDGE_MODEL
    assert data["upstream"] == "judge"
    assert data["threshold"] == threshold
    assert isinstance(data["latency_ms"], float)
    assert data["latency_ms"] >= 0
    assert isinstance(data["explanation"], str)
    assert isinstance(data["arguments"], str)
