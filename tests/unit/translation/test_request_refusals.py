"""Fields with no counterpart on the target are refused with a 400 that names them; none pass unread."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.translation.request_model import UntranslatableField
from luthien.translation.requests import decode_request, translate_request
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError
from tests.unit.translation.request_strategies import DEFAULT_MAX_TOKENS

_USER = [{"role": "user", "content": "hi"}]
_ANTHROPIC = {"model": "m", "max_tokens": 10, "messages": _USER}
_CHAT = {"model": "m", "messages": _USER}
_RESPONSES = {"model": "m", "input": "hi"}

REFUSED: list[tuple[WireApi, dict[str, Any], str]] = [
    # Responses: state kept at OpenAI, built-in tools, items of built-in tools, Codex's compaction.
    (OPENAI_RESPONSES, {**_RESPONSES, "previous_response_id": "resp_1"}, "previous_response_id"),
    (OPENAI_RESPONSES, {**_RESPONSES, "conversation": "conv_1"}, "conversation"),
    (OPENAI_RESPONSES, {**_RESPONSES, "prompt": {"id": "pmpt_1"}}, "prompt"),
    (OPENAI_RESPONSES, {**_RESPONSES, "max_tool_calls": 3}, "max_tool_calls"),
    (OPENAI_RESPONSES, {**_RESPONSES, "background": True}, "background"),
    (OPENAI_RESPONSES, {**_RESPONSES, "top_logprobs": 2}, "top_logprobs"),
    (OPENAI_RESPONSES, {**_RESPONSES, "tools": [{"type": "web_search"}]}, "tools[0].type"),
    (
        OPENAI_RESPONSES,
        {**_RESPONSES, "tools": [{"type": "file_search", "vector_store_ids": []}]},
        "tools[0].type",
    ),
    (OPENAI_RESPONSES, {**_RESPONSES, "tools": [{"type": "computer_use_preview"}]}, "tools[0].type"),
    (OPENAI_RESPONSES, {**_RESPONSES, "tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
    (
        OPENAI_RESPONSES,
        {**_RESPONSES, "tools": [{"type": "namespace", "name": "n", "tools": [{"type": "web_search"}]}]},
        "tools[0].tools[0].type",
    ),
    (OPENAI_RESPONSES, {**_RESPONSES, "tool_choice": {"type": "web_search"}}, "tool_choice.type"),
    (OPENAI_RESPONSES, {**_RESPONSES, "text": {"format": {"type": "json_object"}}}, "text.format.type"),
    (
        OPENAI_RESPONSES,
        {**_RESPONSES, "input": [{"type": "compaction_trigger"}, {"role": "user", "content": "x"}]},
        "input[0].type",
    ),
    (
        OPENAI_RESPONSES,
        {**_RESPONSES, "input": [{"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAB"}]},
        "input[0].encrypted_content",
    ),
    (OPENAI_RESPONSES, {**_RESPONSES, "input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    (OPENAI_RESPONSES, {**_RESPONSES, "input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type"),
    (OPENAI_RESPONSES, {**_RESPONSES, "input": [{"role": "critic", "content": "x"}]}, "input[0].role"),
    (
        OPENAI_RESPONSES,
        {
            **_RESPONSES,
            "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}],
        },
        "input[0].content[0].type",
    ),
    (
        OPENAI_RESPONSES,
        {**_RESPONSES, "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]}]},
        "input[0].content[0].file_id",
    ),
    (OPENAI_RESPONSES, {**_RESPONSES, "frobnicate": True}, "frobnicate"),
    # Chat Completions: several choices, audio, log probabilities, sampling only OpenAI has.
    (OPENAI_CHAT, {**_CHAT, "n": 2}, "n"),
    (OPENAI_CHAT, {**_CHAT, "audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    (OPENAI_CHAT, {**_CHAT, "modalities": ["text", "audio"]}, "modalities"),
    (OPENAI_CHAT, {**_CHAT, "logprobs": True}, "logprobs"),
    (OPENAI_CHAT, {**_CHAT, "top_logprobs": 2}, "top_logprobs"),
    (OPENAI_CHAT, {**_CHAT, "logit_bias": {"50256": -100}}, "logit_bias"),
    (OPENAI_CHAT, {**_CHAT, "frequency_penalty": 0.5}, "frequency_penalty"),
    (OPENAI_CHAT, {**_CHAT, "presence_penalty": -0.5}, "presence_penalty"),
    (OPENAI_CHAT, {**_CHAT, "prediction": {"type": "content", "content": "x"}}, "prediction"),
    (OPENAI_CHAT, {**_CHAT, "web_search_options": {}}, "web_search_options"),
    (OPENAI_CHAT, {**_CHAT, "functions": [{"name": "f"}]}, "functions"),
    (OPENAI_CHAT, {**_CHAT, "response_format": {"type": "json_object"}}, "response_format.type"),
    (OPENAI_CHAT, {**_CHAT, "tools": [{"type": "custom", "custom": {"name": "c"}}]}, "tools[0].type"),
    (OPENAI_CHAT, {**_CHAT, "tool_choice": {"type": "allowed_tools"}}, "tool_choice.type"),
    (
        OPENAI_CHAT,
        {**_CHAT, "messages": [{"role": "function", "name": "f", "content": "x"}]},
        "messages[0].role",
    ),
    (
        OPENAI_CHAT,
        {**_CHAT, "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        "messages[0].content[0].type",
    ),
    (
        OPENAI_CHAT,
        {
            **_CHAT,
            "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file_1"}}]}],
        },
        "messages[0].content[0].file.file_id",
    ),
    (
        OPENAI_CHAT,
        {**_CHAT, "messages": [{"role": "assistant", "content": None, "function_call": {"name": "f"}}]},
        "messages[0].function_call",
    ),
    (
        OPENAI_CHAT,
        {
            **_CHAT,
            "messages": [
                {"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "x"}}]}
            ],
        },
        "messages[0].tool_calls[0].type",
    ),
    (OPENAI_CHAT, {**_CHAT, "frobnicate": True}, "frobnicate"),
    # Anthropic: sampling and server-side features only Anthropic has.
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "top_k": 5}, "top_k"),
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "container": "cont_1"}, "container"),
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "mcp_servers": [{"type": "url", "url": "https://x"}]}, "mcp_servers"),
    (
        ANTHROPIC_MESSAGES,
        {**_ANTHROPIC, "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        "tools[0].type",
    ),
    (
        ANTHROPIC_MESSAGES,
        {**_ANTHROPIC, "tools": [{"type": "bash_20250124", "name": "bash"}]},
        "tools[0].type",
    ),
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "thinking": {"type": "sometimes"}}, "thinking.type"),
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "output_config": {"effort": "extreme"}}, "output_config.effort"),
    (
        ANTHROPIC_MESSAGES,
        {**_ANTHROPIC, "output_config": {"format": {"type": "regex"}}},
        "output_config.format.type",
    ),
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "tool_choice": {"type": "maybe"}}, "tool_choice.type"),
    (
        ANTHROPIC_MESSAGES,
        {
            **_ANTHROPIC,
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "server_tool_use", "id": "s", "name": "web_search"}],
                }
            ],
        },
        "messages[0].content[0].type",
    ),
    (
        ANTHROPIC_MESSAGES,
        {
            **_ANTHROPIC,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "file", "file_id": "file_1"}}],
                }
            ],
        },
        "messages[0].content[0].source.type",
    ),
    (
        ANTHROPIC_MESSAGES,
        {
            **_ANTHROPIC,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": [{"type": "thinking", "thinking": "x"}],
                        }
                    ],
                }
            ],
        },
        "messages[0].content[0].content",
    ),
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "frobnicate": True}, "frobnicate"),
]


@pytest.mark.parametrize(
    ("source", "body", "field"), REFUSED, ids=[f"{case[0].name}:{case[2]}" for case in REFUSED]
)
def test_a_field_with_no_counterpart_is_refused_by_name(
    source: WireApi, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(UntranslatableField) as caught:
        decode_request(body, source)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert caught.value.field == field


def test_openais_own_compaction_is_refused_by_name() -> None:
    # Codex's compaction is answered on translated routes (luthien.translation.compaction), but an
    # OpenAI compaction item holds a summary only OpenAI can read.
    openai_compaction = {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAABopaque"}
    body = {**_RESPONSES, "input": [{"role": "user", "content": "hi"}, openai_compaction]}
    with pytest.raises(UntranslatableField) as caught:
        translate_request(body, OPENAI_RESPONSES, ANTHROPIC_MESSAGES, default_max_tokens=DEFAULT_MAX_TOKENS)
    assert caught.value.field == "input[1].encrypted_content"


@pytest.mark.parametrize("source", [ANTHROPIC_MESSAGES, OPENAI_CHAT])
def test_stop_sequences_are_refused_toward_responses(source: WireApi) -> None:
    body = (
        {**_ANTHROPIC, "stop_sequences": ["END"]}
        if source is ANTHROPIC_MESSAGES
        else {**_CHAT, "stop": "END"}
    )
    with pytest.raises(UntranslatableField) as caught:
        translate_request(body, source, OPENAI_RESPONSES, default_max_tokens=DEFAULT_MAX_TOKENS)
    assert caught.value.field == "stop"


def test_a_document_by_url_is_refused_toward_chat() -> None:
    document = {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}
    body = {**_ANTHROPIC, "messages": [{"role": "user", "content": [document]}]}
    with pytest.raises(UntranslatableField) as caught:
        translate_request(body, ANTHROPIC_MESSAGES, OPENAI_CHAT, default_max_tokens=DEFAULT_MAX_TOKENS)
    assert caught.value.field == "document.source.url"


@pytest.mark.parametrize(
    "body",
    [
        {
            **_CHAT,
            "n": 1,
            "frequency_penalty": 0,
            "presence_penalty": 0.0,
            "logprobs": False,
            "modalities": ["text"],
        },
        {**_CHAT, "logit_bias": {}, "audio": None},
    ],
)
def test_defaults_of_refused_chat_fields_are_accepted(body: dict[str, Any]) -> None:
    translated = translate_request(
        body, OPENAI_CHAT, ANTHROPIC_MESSAGES, default_max_tokens=DEFAULT_MAX_TOKENS
    )
    assert translated["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


@pytest.mark.parametrize(
    ("source", "body"),
    [
        (ANTHROPIC_MESSAGES, {"model": "m", "messages": "hi"}),
        (ANTHROPIC_MESSAGES, {"model": 3, "messages": []}),
        (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "max_tokens": "ten"}),
        (ANTHROPIC_MESSAGES, {**_ANTHROPIC, "temperature": True}),
        (OPENAI_CHAT, {**_CHAT, "stream": "yes"}),
        (OPENAI_CHAT, {**_CHAT, "messages": [{"role": "user", "content": 5}]}),
        (
            OPENAI_CHAT,
            {
                **_CHAT,
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}],
                    }
                ],
            },
        ),
        (
            OPENAI_RESPONSES,
            {**_RESPONSES, "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
        ),
        (
            OPENAI_RESPONSES,
            {
                **_RESPONSES,
                "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}],
            },
        ),
    ],
)
def test_a_malformed_field_is_an_invalid_request(source: WireApi, body: dict[str, Any]) -> None:
    with pytest.raises(GatewayError) as caught:
        decode_request(body, source)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert not isinstance(caught.value, UntranslatableField)


def test_fields_dropped_on_purpose_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    body = {
        **_ANTHROPIC,
        "metadata": {"user_id": "u"},
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
    }
    with caplog.at_level(logging.DEBUG, logger="luthien.translation"):
        translated = translate_request(
            body, ANTHROPIC_MESSAGES, OPENAI_CHAT, default_max_tokens=DEFAULT_MAX_TOKENS
        )
    assert "metadata" not in translated
    dropped = [record.args for record in caplog.records if record.levelno == logging.DEBUG]
    assert any("system[0].cache_control" in (args or ()) for args in dropped)
    assert any("metadata" in (args or ()) for args in dropped)


def test_settings_without_a_counterpart_are_logged_when_dropped(caplog: pytest.LogCaptureFixture) -> None:
    body = {**_RESPONSES, "reasoning": {"effort": "low", "summary": "auto"}, "tool_choice": "auto"}
    with caplog.at_level(logging.DEBUG, logger="luthien.translation"):
        translated = translate_request(
            body, OPENAI_RESPONSES, OPENAI_CHAT, default_max_tokens=DEFAULT_MAX_TOKENS
        )
    assert "tool_choice" not in translated
    logged = [
        record.getMessage() for record in caplog.records if record.name == "luthien.translation.requests"
    ]
    assert len(logged) == 2


def test_built_in_tools_the_gateway_allows_dropping_are_left_out() -> None:
    body: dict[str, Any] = {
        **_RESPONSES,
        "tools": [{"type": "web_search"}, {"type": "function", "name": "f", "parameters": {}}],
    }
    translated = translate_request(
        body,
        OPENAI_RESPONSES,
        ANTHROPIC_MESSAGES,
        default_max_tokens=DEFAULT_MAX_TOKENS,
        droppable_tool_types=frozenset({"web_search"}),
    )
    assert translated["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]
    assert body["tools"][0] == {"type": "web_search"}
    with pytest.raises(UntranslatableField) as caught:
        translate_request(
            {**body, "tools": [{"type": "file_search"}]},
            OPENAI_RESPONSES,
            ANTHROPIC_MESSAGES,
            default_max_tokens=DEFAULT_MAX_TOKENS,
            droppable_tool_types=frozenset({"web_search"}),
        )
    assert caught.value.field == "tools[0].type"
