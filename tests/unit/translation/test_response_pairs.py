"""Responses translated between every pair of APIs, read by the client API's official SDK.

For each upstream API X and client API Y ≠ X, streaming and not, an answer X's SDK reads as some
text, reasoning, tool calls, stop and usage must be read by Y's SDK as the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from luthien.activity.log import ActivityLog
from luthien.pipeline.stage import PolicyStage
from luthien.policies.all_caps import AllCapsPolicy
from luthien.policies.noop import NoopPolicy
from luthien.policy.base import PolicyConfig, PolicyContext
from luthien.testing.fake_provider.anthropic_wire import anthropic_message, anthropic_stream
from luthien.testing.fake_provider.openai_chat_wire import chat_completion, chat_stream
from luthien.testing.fake_provider.openai_responses_wire import response_object, responses_stream
from luthien.testing.fake_provider.script import ToolCall
from luthien.testing.streams import API_NAMES, WIRE_APIS, ApiName, ModelReply, model_reply
from luthien.translation.envelope import open_envelope
from tests.unit.translation.sdk_views import View, translate, view
from tests.unit.translation.upstream_replies import REFUSAL_TEXT, chat_interleaved_calls, refusal

PAIRS = [(upstream, client) for upstream in API_NAMES for client in API_NAMES if upstream != client]
PAIR_IDS = [f"{upstream}-to-{client}" for upstream, client in PAIRS]
BASH = ToolCall("call_bash1", "Bash", {"command": "ls -la", "timeout": 30})
READ = ToolCall("call_read2", "Read", {"path": "/etc/hosts", "lines": [1, 2]})
CUT_TEXT = "This answer is cut"


def _max_tokens(api: ApiName, stream: bool) -> ModelReply:
    if api == "anthropic":
        if stream:
            return ModelReply(api, frames=tuple(anthropic_stream(CUT_TEXT, stop_reason="max_tokens")))
        return ModelReply(api, body=orjson.dumps(anthropic_message(CUT_TEXT, stop_reason="max_tokens")))
    if api == "openai_chat":
        if stream:
            return ModelReply(api, frames=tuple(chat_stream(CUT_TEXT, finish_reason="length")))
        return ModelReply(api, body=orjson.dumps(chat_completion(CUT_TEXT, finish_reason="length")))
    if stream:
        return ModelReply(api, frames=tuple(responses_stream(CUT_TEXT, status="incomplete")))
    return ModelReply(api, body=orjson.dumps(response_object(CUT_TEXT, status="incomplete")))


SCENARIOS: dict[str, Callable[[ApiName, bool], ModelReply]] = {
    "text": lambda api, stream: model_reply(api, "Hello there, world.", stream=stream),
    "thinking": lambda api, stream: model_reply(api, "It is 4.", thinking="Two plus two.", stream=stream),
    "tool_call": lambda api, stream: model_reply(api, "", tool_calls=[BASH], stream=stream),
    "parallel_tool_calls": lambda api, stream: model_reply(
        api, "Let me look.", tool_calls=[BASH, READ], stream=stream
    ),
    "max_tokens": _max_tokens,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
def test_the_client_sdk_reads_what_the_upstream_sdk_reads(
    upstream: ApiName, client: ApiName, stream: bool, scenario: str
) -> None:
    reply = SCENARIOS[scenario](upstream, stream)
    expected = view(upstream, reply.raw, stream)
    assert view(client, translate(reply, client), stream) == expected


@pytest.mark.parametrize("client", ["anthropic", "openai_responses"])
def test_interleaved_chat_tool_calls_arrive_whole_and_in_order(client: ApiName) -> None:
    got = view(client, translate(chat_interleaved_calls(), client), True)
    assert got.text == "Checking."
    assert got.tool_calls == (
        ("call_a", "Bash", {"command": "ls"}),
        ("call_b", "Read", {"path": "/etc"}),
    )
    assert got.stop == "tool"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize("upstream", ["openai_chat", "openai_responses"])
def test_an_openai_refusal_is_anthropic_text_with_the_refusal_stop(upstream: ApiName, stream: bool) -> None:
    got = view("anthropic", translate(refusal(upstream, stream), "anthropic"), stream)
    assert (got.text, got.refusal, got.tool_calls, got.stop) == (REFUSAL_TEXT, "", (), "refusal")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize(
    ("upstream", "client"), [("openai_chat", "openai_responses"), ("openai_responses", "openai_chat")]
)
def test_a_refusal_stays_a_refusal_between_openai_apis(
    upstream: ApiName, client: ApiName, stream: bool
) -> None:
    got = view(client, translate(refusal(upstream, stream), client), stream)
    assert (got.text, got.refusal, got.stop) == ("", REFUSAL_TEXT, "end")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize(("client", "stop"), [("openai_chat", "refusal"), ("openai_responses", "end")])
def test_an_anthropic_refusal_keeps_its_text(client: ApiName, stop: str, stream: bool) -> None:
    got = view(client, translate(refusal("anthropic", stream), client), stream)
    assert (got.text, got.refusal, got.stop) == (REFUSAL_TEXT, "", stop)


ANTHROPIC_CACHED = {
    "input_tokens": 5,
    "cache_read_input_tokens": 20,
    "cache_creation_input_tokens": 3,
    "output_tokens": 9,
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize("client", ["openai_chat", "openai_responses"])
def test_anthropic_cache_tokens_count_as_openai_prompt_tokens(client: ApiName, stream: bool) -> None:
    if stream:
        reply = ModelReply("anthropic", frames=tuple(anthropic_stream("Hi.", usage=ANTHROPIC_CACHED)))
    else:
        reply = ModelReply("anthropic", body=orjson.dumps(anthropic_message("Hi.", usage=ANTHROPIC_CACHED)))
    data = translate(reply, client)
    assert view(client, data, stream).usage == (28, 9)
    assert _cached_tokens(client, data, stream) == 20


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
def test_openai_cached_tokens_are_anthropic_cache_reads(stream: bool) -> None:
    data = translate(refusal("openai_responses", stream), "anthropic")
    assert view("anthropic", data, stream).usage == (20, 7)
    assert _cached_tokens("anthropic", data, stream) == 10


def _cached_tokens(client: ApiName, data: bytes, stream: bool) -> int | None:
    """The cached prompt tokens the client was told of (the last usage the bytes carry)."""
    usages = [
        _usage_in(orjson.loads(line[len(b"data: ") :]))
        for line in data.splitlines()
        if line.startswith(b"data: {")
    ]
    usage = [found for found in usages if found][-1] if stream else _usage_in(orjson.loads(data))
    assert usage is not None
    if client == "anthropic":
        return usage.get("cache_read_input_tokens")
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    return details.get("cached_tokens")


def _usage_in(payload: dict[str, Any]) -> dict[str, Any] | None:
    for holder in (payload, payload.get("response") or {}, payload.get("message") or {}):
        if isinstance(holder.get("usage"), dict):
            return holder["usage"]
    return None


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize("client", ["openai_chat", "openai_responses"])
def test_an_anthropic_signature_reaches_an_openai_client_sealed(client: ApiName, stream: bool) -> None:
    reply = model_reply("anthropic", "Done.", thinking="Hmm.", stream=stream)
    data = translate(reply, client)
    if client == "openai_chat":
        assert b"signature" not in data  # Chat has no place for it
        return
    sealed = [line for line in data.split(b'"') if line.startswith(b"luthien.v1.")]
    assert sealed
    opened = open_envelope(sealed[-1].decode())
    assert opened is not None
    assert opened.api == "anthropic_messages"
    assert opened.token


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
def test_a_policy_sees_and_changes_a_translated_response(
    upstream: ApiName, client: ApiName, stream: bool
) -> None:
    reply = model_reply(upstream, "quiet words", tool_calls=[BASH], stream=stream)
    ctx = PolicyContext("tx", "all_caps", ActivityLog())
    stage = PolicyStage(
        AllCapsPolicy(PolicyConfig(), "all_caps"), ctx, WIRE_APIS[client], WIRE_APIS[upstream]
    )
    got = view(client, translate(reply, client, stage), stream)
    assert got.text == "QUIET WORDS"
    assert got.tool_calls == (("call_bash1", "Bash", {"command": "ls -la", "timeout": 30}),)


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
def test_a_policy_that_ignores_responses_still_gets_them_translated(
    upstream: ApiName, client: ApiName
) -> None:
    reply = model_reply(upstream, "plain", stream=True)
    stage = PolicyStage(
        NoopPolicy(PolicyConfig(), "noop"),
        PolicyContext("tx", "noop", ActivityLog()),
        WIRE_APIS[client],
        WIRE_APIS[upstream],
    )
    assert not stage.passes_through
    assert view(client, translate(reply, client, stage), True) == View(
        "plain", "", "", (), "end", view(upstream, reply.raw, True).usage
    )
