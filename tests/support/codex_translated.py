"""Codex on translated routes: its model routed to an `anthropic` or an `openai-chat` upstream.

`start` runs Luthien with every model routed to one upstream (the fake provider as Anthropic, or the
Chat-only `local` fake); an `Upstream` says how that upstream is configured, called, answers
(`reply`: text, tool calls, a full context or not, streamed or not) and how its tool results read.
Shared by the Codex translation tests: the real CLI's, and the replays of its recorded requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

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
)
from tests.support.codex import CLIENT_KEY
from tests.support.servers import LuthienServer

ANTHROPIC_KEY = "sk-ant-upstream"
LOCAL_KEY = "local-upstream"
SUMMARY = "The user wanted a marker file; the command wrote it. Nothing remains to do."
"""What the upstream model answers when asked for a summary (a compaction)."""
FULL_CONTEXT_TOKENS = 50_000
"""The prompt size the model reports on a full context: far past Codex's compaction limit in these tests."""


@dataclass(frozen=True)
class Upstream:
    """One translated upstream: its config, the path it is called on, how it answers and is read."""

    name: str
    config: dict[str, Any]
    path: str
    reply: Callable[[str, list[ToolCall], bool, bool], Reply]
    """An answer: text, tool calls, whether the context is full, whether streamed."""
    auth: tuple[str, str]
    tool_results: Callable[[dict[str, Any]], list[tuple[str, str]]]
    """The `(call id, output text)` of each tool result in a request body."""


def texts(message: dict[str, Any]) -> list[str]:
    """The texts of an Anthropic or Chat message (string content, or its text parts)."""
    content: str | list[dict[str, Any]] | None = message.get("content")
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content or [] if part.get("type") == "text"]


def tool_names(body: dict[str, Any]) -> list[str]:
    """The names of the tools an Anthropic or Chat request offers."""
    return [tool.get("name") or tool["function"]["name"] for tool in body.get("tools", [])]


def anthropic_reply(text: str, calls: list[ToolCall], full: bool, stream: bool) -> Reply:
    usage = {"input_tokens": FULL_CONTEXT_TOKENS} if full else None
    if not stream:
        return JSONReply(anthropic_message(text, tool_calls=calls, usage=usage))
    return StreamReply(anthropic_stream(text, tool_calls=calls, usage=usage))


def anthropic_results(body: dict[str, Any]) -> list[tuple[str, str]]:
    blocks = [
        block
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
    ]
    return [
        (block["tool_use_id"], "".join(part["text"] for part in block["content"] if part["type"] == "text"))
        for block in blocks
        if block["type"] == "tool_result"
    ]


def chat_reply(text: str, calls: list[ToolCall], full: bool, stream: bool) -> Reply:
    usage = {"prompt_tokens": FULL_CONTEXT_TOKENS, "total_tokens": FULL_CONTEXT_TOKENS} if full else None
    if not stream:
        return JSONReply(chat_completion(text, tool_calls=calls, usage=usage))
    return StreamReply(chat_stream(text, tool_calls=calls, usage=usage))


def chat_results(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (message["tool_call_id"], "".join(texts(message)))
        for message in body["messages"]
        if message["role"] == "tool"
    ]


def upstreams(fake: FakeProvider, local: FakeProvider) -> dict[str, Upstream]:
    return {
        "anthropic": Upstream(
            "claude-up",
            {"format": "anthropic", "base_url": fake.base_url, "api_key": ANTHROPIC_KEY},
            "/v1/messages",
            anthropic_reply,
            ("x-api-key", ANTHROPIC_KEY),
            anthropic_results,
        ),
        "openai-chat": Upstream(
            "local",
            {"format": "openai-chat", "base_url": f"{local.base_url}/v1", "api_key": LOCAL_KEY},
            "/v1/chat/completions",
            chat_reply,
            ("authorization", f"Bearer {LOCAL_KEY}"),
            chat_results,
        ),
    }


UPSTREAMS = pytest.mark.parametrize("api", ["anthropic", "openai-chat"])


@dataclass
class Setup:
    server: LuthienServer
    upstream: Upstream
    model: FakeProvider


def start(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    local: FakeProvider,
    api: str,
    settings: dict[str, Any] | None = None,
    **extra: Any,
) -> Setup:
    """Luthien with every model routed to the `api` upstream; Codex's key is Luthien's key.

    `settings` override the server's settings; `extra` is more config.
    """
    upstream = upstreams(fake, local)[api]
    config = LuthienConfig.model_validate(
        {
            "upstreams": {upstream.name: upstream.config},
            "routes": [{"model": "*", "upstream": upstream.name}],
            **extra,
        }
    )
    server = make_luthien(config, api_key=CLIENT_KEY, **(settings or {}))
    return Setup(server, upstream, local if api == "openai-chat" else fake)


def model_calls(setup: Setup) -> list[dict[str, Any]]:
    """The bodies the upstream received on its model-call path, in order."""
    return [request.json() for request in setup.model.requests if request.path == setup.upstream.path]
