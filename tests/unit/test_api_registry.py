"""The registry of client APIs: each API found by path, name and upstream format, with working pieces.

Also how each dialect presents a provider key to an upstream.
"""

from __future__ import annotations

from typing import Any

import pytest

from luthien.apis import registry
from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import (
    Block,
    BlockComplete,
    BlockKind,
    MessageEnd,
    MessageStart,
    StopReason,
)
from luthien.config import UpstreamApi
from luthien.records.assemble import assemble_stream
from luthien.records.content import tool_names_of, usage_of
from luthien.translation.request_model import TextPart
from luthien.wire.apis import WireApi
from luthien.wire.formats import ANTHROPIC_VERSION, WireFormat
from tests.fake_provider import ToolCall as FakeToolCall
from tests.fake_provider import (
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    response_object,
    responses_stream,
)

API_IDS = [api.name for api in registry.APIS]

# The smallest request body of each API asking one question.
QUESTIONS: dict[WireApi, dict[str, Any]] = {
    ANTHROPIC_MESSAGES: {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
    OPENAI_CHAT: {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    OPENAI_RESPONSES: {"model": "m", "input": "hi"},
}


def test_the_gateway_serves_each_api_on_its_own_paths() -> None:
    served = {endpoint.path: endpoint.api for endpoint in registry.ENDPOINTS}

    assert served == {
        "/v1/messages": ANTHROPIC_MESSAGES,
        "/v1/messages/count_tokens": ANTHROPIC_MESSAGES,
        "/v1/chat/completions": OPENAI_CHAT,
        "/v1/responses": OPENAI_RESPONSES,
    }
    assert all(registry.BY_PATH[path].api is api for path, api in served.items())


@pytest.mark.parametrize("api", registry.APIS, ids=API_IDS)
def test_each_api_answers_model_calls_on_its_path_under_the_policy(api: WireApi) -> None:
    endpoint = registry.BY_PATH[api.path]

    assert endpoint.api is api
    assert endpoint.applies_policy


def test_token_counting_is_forwarded_without_the_policy() -> None:
    assert not registry.BY_PATH["/v1/messages/count_tokens"].applies_policy


@pytest.mark.parametrize("api", registry.APIS, ids=API_IDS)
def test_a_record_names_its_api(api: WireApi) -> None:
    assert registry.named(api.name) is api
    assert registry.BY_NAME[api.name] is api


def test_a_record_of_an_unknown_api_reads_as_responses() -> None:
    assert registry.named("no_such_api") is OPENAI_RESPONSES


def test_each_upstream_format_serves_its_apis_and_translates_the_others_to_one_it_serves() -> None:
    assert {
        UpstreamApi.ANTHROPIC: frozenset({ANTHROPIC_MESSAGES}),
        UpstreamApi.OPENAI: frozenset({OPENAI_CHAT, OPENAI_RESPONSES}),
        UpstreamApi.OPENAI_CHAT: frozenset({OPENAI_CHAT}),
    } == registry.SERVED_APIS
    for upstream_api in UpstreamApi:
        assert registry.TRANSLATION_TARGETS[upstream_api] in registry.SERVED_APIS[upstream_api]


def test_the_apis_of_each_dialect() -> None:
    assert registry.BY_DIALECT[WireFormat.ANTHROPIC] == (ANTHROPIC_MESSAGES,)
    assert registry.BY_DIALECT[WireFormat.OPENAI] == (OPENAI_CHAT, OPENAI_RESPONSES)


@pytest.mark.parametrize("api", registry.APIS, ids=API_IDS)
def test_each_api_request_decodes_and_encodes_back_to_the_same_question(api: WireApi) -> None:
    entry = registry.entry_of(api)

    decoded = entry.decode_request(QUESTIONS[api])
    again = entry.decode_request(entry.encode_request(decoded, default_max_tokens=16))

    assert again.model == decoded.model == "m"
    assert [message.role for message in again.messages] == ["user"]
    assert [part.text for part in again.messages[0].parts if isinstance(part, TextPart)] == ["hi"]


@pytest.mark.parametrize("api", registry.APIS, ids=API_IDS)
def test_each_api_codec_reads_back_the_answer_it_writes(api: WireApi) -> None:
    events = [
        MessageStart("msg_1", "m"),
        BlockComplete(0, Block(BlockKind.TEXT, text="hello")),
        MessageEnd(StopReason.END_TURN),
    ]

    body = registry.new_codec(api).encode_body(events)
    read = registry.new_codec(api).decode_body(body)

    texts = [event.block.text for event in read if isinstance(event, BlockComplete)]
    assert texts == ["hello"]
    assert any(isinstance(event, MessageEnd) and event.stop_reason is StopReason.END_TURN for event in read)


# Each API's whole message and stream with one `Bash` call, reporting 3 input and 5 output tokens.
BASH = FakeToolCall("call_1", "Bash", {"command": "ls"})
WHOLE_MESSAGES: dict[WireApi, dict[str, Any]] = {
    ANTHROPIC_MESSAGES: anthropic_message(
        "", tool_calls=[BASH], usage={"input_tokens": 3, "output_tokens": 5}
    ),
    OPENAI_CHAT: chat_completion("", tool_calls=[BASH], usage={"prompt_tokens": 3, "completion_tokens": 5}),
    OPENAI_RESPONSES: response_object("", tool_calls=[BASH], usage={"input_tokens": 3, "output_tokens": 5}),
}
STREAMS: dict[WireApi, list[bytes]] = {
    ANTHROPIC_MESSAGES: anthropic_stream("", tool_calls=[BASH]),
    OPENAI_CHAT: chat_stream("", tool_calls=[BASH]),
    OPENAI_RESPONSES: responses_stream("", tool_calls=[BASH]),
}


@pytest.mark.parametrize("api", registry.APIS, ids=API_IDS)
def test_records_read_the_usage_and_tool_calls_of_each_apis_whole_message(api: WireApi) -> None:
    message = WHOLE_MESSAGES[api]

    assert tool_names_of(api.name, message) == ("Bash",)
    usage = usage_of(api.name, message)
    assert (usage.input_tokens, usage.output_tokens) == (3, 5)


@pytest.mark.parametrize("api", registry.APIS, ids=API_IDS)
def test_records_assemble_each_apis_stream_by_its_own_assembler(api: WireApi) -> None:
    assembly = assemble_stream(api.name, STREAMS[api])

    assert assembly.complete
    assert tool_names_of(api.name, assembly.message) == ("Bash",)


def test_each_dialect_presents_a_provider_key_its_own_way() -> None:
    assert WireFormat.ANTHROPIC.credential("k") == ("x-api-key", "k")
    assert WireFormat.OPENAI.credential("k") == ("authorization", "Bearer k")
    assert WireFormat.ANTHROPIC.request_headers == {"anthropic-version": ANTHROPIC_VERSION}
    assert WireFormat.OPENAI.request_headers == {}
