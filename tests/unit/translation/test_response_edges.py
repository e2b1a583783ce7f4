"""What has no counterpart in the client's API: dropped blocks, unnamed stop reasons, missing usage."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from luthien.activity.log import ActivityLog
from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.anthropic_messages.codec import AnthropicCodec
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_chat.codec import OpenAIChatCodec
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.apis.openai_responses.codec import OpenAIResponsesCodec
from luthien.apis.openai_responses.shape import RESPONSE_FIELDS
from luthien.call.request import CallRequest
from luthien.pipeline.stage import PassThroughStage, PolicyStage, TranslationStage
from luthien.policies.noop import NoopPolicy
from luthien.policy.base import PolicyConfig, PolicyContext
from luthien.testing.fake_provider.openai_chat_wire import chat_completion, chat_stream
from luthien.testing.fake_provider.openai_responses_wire import response_object
from luthien.testing.fake_provider.script import sse_frame
from luthien.testing.streams import WIRE_APIS, ApiName, ModelReply, model_reply
from luthien.translation.envelope import seal
from luthien.translation.responses import TranslatingCodec, codec_between, wants_usage_chunk
from luthien.wire.formats import WireFormat
from tests.unit.translation.sdk_views import translate, view


def _event(payload: dict[str, Any]) -> bytes:
    return sse_frame(str(payload["type"]), payload)


def _anthropic(blocks: list[list[dict[str, Any]]], stop: str, usage: dict[str, Any] | None) -> ModelReply:
    """An Anthropic stream of the given blocks' events, ending with `stop` (and `usage`, if any)."""
    message = {
        "id": "msg_edge",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    frames = [_event({"type": "message_start", "message": message}), _event({"type": "ping"})]
    frames.extend(
        _event({**payload, "index": index}) for index, block in enumerate(blocks) for payload in block
    )
    delta: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}}
    if usage is not None:
        delta["usage"] = usage
    frames.extend([_event(delta), _event({"type": "message_stop"})])
    return ModelReply("anthropic", frames=tuple(frames))


def _whole(block: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "content_block": block},
        *({"type": "content_block_delta", "delta": delta} for delta in deltas),
        {"type": "content_block_stop"},
    ]


SERVER_TOOL = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
SEARCH_RESULT = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
CITATION = {
    "type": "citations_delta",
    "citation": {"type": "web_search_result_location", "url": "https://x.test"},
}


@pytest.mark.parametrize("client", ["openai_chat", "openai_responses"])
def test_blocks_without_a_counterpart_are_dropped(client: ApiName) -> None:
    reply = _anthropic(
        [
            _whole({"type": "redacted_thinking", "data": "opaque"}),
            _whole(SERVER_TOOL, {"type": "input_json_delta", "partial_json": '{"query": "x"}'}),
            _whole(SEARCH_RESULT),
            _whole({"type": "text", "text": ""}, {"type": "text_delta", "text": "Found it."}, CITATION),
        ],
        "end_turn",
        {"output_tokens": 5},
    )
    data = translate(reply, client)
    got = view(client, data, True)
    assert (got.text, got.tool_calls, got.stop, got.usage) == ("Found it.", (), "end", (12, 5))
    for foreign in (b"redacted", b"srvtoolu", b"web_search", b"citation", b"ping"):
        assert foreign not in data
    assert WIRE_APIS[client].keepalive in data  # the upstream's ping, as the client's keep-alive


def test_an_upstream_comment_is_the_clients_keepalive() -> None:
    frames = (b": still thinking\n\n", *model_reply("openai_chat", "ok").frames)
    data = translate(ModelReply("openai_chat", frames=frames), "anthropic")
    assert ANTHROPIC_MESSAGES.keepalive in data
    assert view("anthropic", data, True).text == "ok"


def test_a_stop_reason_without_a_normalized_name_is_mapped_by_meaning() -> None:
    reply = _anthropic(
        [_whole({"type": "text", "text": ""}, {"type": "text_delta", "text": "so"})],
        "model_context_window_exceeded",
        None,
    )
    got = view("openai_chat", translate(reply, "openai_chat"), True)
    assert got.stop == "max"
    assert got.usage == (12, 1)  # no usage at the end: the start's counts stand


@pytest.mark.parametrize("client", ["anthropic", "openai_chat"])
def test_a_responses_content_filter_stop_is_a_refusal(client: ApiName) -> None:
    body = response_object("partly", status="incomplete")
    body["incomplete_details"] = {"reason": "content_filter"}
    got = view(client, translate(ModelReply("openai_responses", body=orjson.dumps(body)), client), False)
    assert (got.text, got.stop) == ("partly", "refusal")


def test_an_unknown_stop_reason_is_the_plain_stop() -> None:
    body = chat_completion("odd", finish_reason="mystery")
    got = view("anthropic", translate(ModelReply("openai_chat", body=orjson.dumps(body)), "anthropic"), False)
    assert (got.text, got.stop) == ("odd", "end")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
def test_an_answer_without_usage_has_none_to_translate(stream: bool) -> None:
    if stream:
        reply = ModelReply("openai_chat", frames=tuple(chat_stream("no usage", include_usage=False)))
    else:
        body = chat_completion("no usage")
        del body["usage"]
        reply = ModelReply("openai_chat", body=orjson.dumps(body))
    got = view("anthropic", translate(reply, "anthropic"), stream)
    assert (got.text, got.usage) == ("no usage", (0, 0))


def test_anthropic_usage_without_cache_counts_translates_without_details() -> None:
    reply = _anthropic(
        [_whole({"type": "text", "text": ""}, {"type": "text_delta", "text": "hi"})],
        "end_turn",
        {"output_tokens": 3},
    )
    data = translate(reply, "openai_chat")
    assert view("openai_chat", data, True).usage == (12, 3)
    assert b"prompt_tokens_details" not in data


def test_the_same_api_gets_its_own_codec() -> None:
    assert isinstance(codec_between(ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES), AnthropicCodec)
    assert isinstance(codec_between(OPENAI_CHAT, OPENAI_CHAT), OpenAIChatCodec)
    assert isinstance(codec_between(OPENAI_RESPONSES, OPENAI_RESPONSES), OpenAIResponsesCodec)
    assert isinstance(codec_between(OPENAI_CHAT, ANTHROPIC_MESSAGES), TranslatingCodec)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
def test_a_pass_through_stage_on_a_translated_call_translates_anyway(stream: bool) -> None:
    reply = model_reply("openai_responses", "hello", stream=stream)
    got = view("anthropic", translate(reply, "anthropic", PassThroughStage()), stream)
    assert (got.text, got.stop) == ("hello", "end")


def test_a_responses_encrypted_reasoning_reaches_an_anthropic_client_sealed() -> None:
    body = response_object("Done.", reasoning="Thought about it.")
    reasoning = next(item for item in body["output"] if item["type"] == "reasoning")
    reasoning["encrypted_content"] = "gAAAAB-opaque"
    data = translate(ModelReply("openai_responses", body=orjson.dumps(body)), "anthropic")
    thinking = [block for block in orjson.loads(data)["content"] if block["type"] == "thinking"]
    assert [(block["thinking"], block["signature"]) for block in thinking] == [
        ("Thought about it.", seal("openai_responses", "gAAAAB-opaque"))
    ]
    assert view("anthropic", data, False).reasoning == "Thought about it."


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
def test_a_translated_responses_object_has_every_documented_field(stream: bool) -> None:
    data = translate(model_reply("anthropic", "hi", stream=stream), "openai_responses")
    if stream:
        payloads = [
            orjson.loads(line[len(b"data: ") :]) for line in data.splitlines() if line.startswith(b"data: ")
        ]
        responses = [payload["response"] for payload in payloads if "response" in payload]
        assert [payload["type"] for payload in payloads if "response" in payload] == [
            "response.created",
            "response.completed",
        ]
    else:
        responses = [orjson.loads(data)]
    for response in responses:
        assert set(RESPONSE_FIELDS) <= set(response)
        assert response["created_at"] > 0
        assert response["object"] == "response"
    assert responses[-1]["status"] == "completed"
    assert responses[-1]["usage"]["output_tokens"] > 0


CHAT_STREAM_REQUEST: dict[str, Any] = {"model": "gpt-test", "messages": [], "stream": True}


@pytest.mark.parametrize(
    ("options", "chunk"),
    [({"include_usage": True}, True), ({"include_usage": False}, False), (None, False)],
)
def test_a_chat_client_gets_the_usage_chunk_only_if_it_asked(
    options: dict[str, Any] | None, chunk: bool
) -> None:
    body = {**CHAT_STREAM_REQUEST, **({"stream_options": options} if options is not None else {})}
    ctx = PolicyContext("tx", "noop", ActivityLog())
    ctx.request = CallRequest(WireFormat.OPENAI, body, None)
    stage = PolicyStage(NoopPolicy(PolicyConfig(), "noop"), ctx, OPENAI_CHAT, ANTHROPIC_MESSAGES)
    data = translate(model_reply("anthropic", "counted"), "openai_chat", stage)
    got = view("openai_chat", data, True)
    assert got.text == "counted"
    assert (b'"choices":[]' in data) is chunk
    assert (got.usage is not None) is chunk


def test_a_translation_stage_may_leave_the_usage_chunk_out() -> None:
    stage = TranslationStage(OPENAI_CHAT, OPENAI_RESPONSES, usage_chunk=False)
    data = translate(model_reply("openai_responses", "quiet"), "openai_chat", stage)
    assert b"usage" not in data
    assert view("openai_chat", data, True).text == "quiet"
    assert wants_usage_chunk(None)
