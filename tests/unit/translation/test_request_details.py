"""Request codecs in detail: what each API alone has, thinking rules, and the normalized model itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from luthien.apis.anthropic_messages import request as anthropic_request
from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat import request as openai_chat_request
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses import request as openai_responses_request
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.translation.envelope import SealedToken, seal
from luthien.translation.request_model import (
    ImagePart,
    Message,
    NormalizedRequest,
    Reasoning,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolKind,
    ToolResultPart,
)
from luthien.translation.requests import decode_request, encode_request, translate_request
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError
from tests.unit.translation.request_strategies import DEFAULT_MAX_TOKENS, validate_with_sdk

CODEX_BODY: dict[str, Any] = {
    "model": "gpt-5-codex",
    "instructions": "Codex.",
    "store": False,
    "include": ["reasoning.encrypted_content"],
    "reasoning": {"effort": "high", "summary": "auto"},
    "text": {
        "verbosity": "low",
        "format": {
            "type": "json_schema",
            "name": "o",
            "schema": {"type": "object"},
            "strict": True,
            "description": "d",
        },
    },
    "tool_choice": {"type": "custom", "name": "apply_patch"},
    "tools": [
        {"type": "local_shell"},
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Patch",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
        },
        {
            "type": "namespace",
            "name": "mcp",
            "description": "",
            "tools": [
                {
                    "type": "function",
                    "name": "find",
                    "description": "Find",
                    "parameters": {"type": "object"},
                    "strict": False,
                },
                {"type": "custom", "name": "raw", "description": "Raw"},
            ],
        },
    ],
    "input": [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Go"},
                {"type": "input_file", "file_url": "https://example.com/a.pdf"},
            ],
        },
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "S"}],
            "encrypted_content": "gAAAA",
        },
        {"type": "message", "role": "assistant", "content": "HiNo"},
        {
            "type": "local_shell_call",
            "id": "call_s",
            "call_id": "call_s",
            "status": "completed",
            "action": {"type": "exec", "env": {}, "command": ["ls"]},
        },
        {"type": "custom_tool_call", "call_id": "call_c", "name": "apply_patch", "input": "*** Begin"},
        {"type": "function_call", "call_id": "call_f", "namespace": "mcp", "name": "find", "arguments": "{}"},
        {"type": "local_shell_call_output", "id": "call_s", "output": "out"},
        {"type": "custom_tool_call_output", "call_id": "call_c", "output": "done"},
        {
            "type": "function_call_output",
            "call_id": "call_f",
            "output": [
                {"type": "input_text", "text": "x"},
                {"type": "input_image", "image_url": "https://example.com/i.png", "detail": "auto"},
            ],
        },
    ],
}


def test_responses_only_items_and_tools_survive_a_responses_round_trip() -> None:
    request = openai_responses_request.decode_request(CODEX_BODY)
    assert request.custom_tool_names() == frozenset({"apply_patch", "mcp__raw"})
    assert request.namespaced_tools() == {"mcp__find": ("mcp", "find"), "mcp__raw": ("mcp", "raw")}
    assert request.tool_kinds() == {
        "local_shell": ToolKind.LOCAL_SHELL,
        "apply_patch": ToolKind.CUSTOM,
        "mcp__find": ToolKind.FUNCTION,
        "mcp__raw": ToolKind.CUSTOM,
    }
    encoded = openai_responses_request.encode_request(request, default_max_tokens=DEFAULT_MAX_TOKENS)
    assert encoded == CODEX_BODY
    validate_with_sdk(encoded, OPENAI_RESPONSES)


def test_responses_refusal_parts_and_assistant_images_read_as_text() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "input": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}, {"type": "refusal", "refusal": "b"}],
            },
            {"role": "user", "content": None},
        ],
    }
    request = openai_responses_request.decode_request(body)
    assert request.messages == (
        Message("user", (TextPart("hi"),)),
        Message("assistant", (TextPart("a"), TextPart("b"))),
        Message("user", ()),
    )
    assistant_image = NormalizedRequest(
        "m", (Message("assistant", (TextPart("x"), ImagePart(url="https://e/i.png"))),)
    )
    assert openai_responses_request.encode_request(assistant_image, default_max_tokens=1)["input"] == [
        {"type": "message", "role": "assistant", "content": "x"}
    ]


def test_a_tool_error_and_redacted_thinking_survive_only_toward_anthropic() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1500},
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [
                    {"type": "redacted_thinking", "data": "EmRedacted"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": True, "content": "no"}],
            },
        ],
    }
    request = anthropic_request.decode_request(body)
    assert request.messages[1].parts[0] == ThinkingPart(
        "", SealedToken(ANTHROPIC_MESSAGES.name, "EmRedacted"), redacted=True
    )
    assert anthropic_request.encode_request(request, default_max_tokens=DEFAULT_MAX_TOKENS) == {
        **body,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "go"}]},
            body["messages"][1],
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "no"}],
                        "is_error": True,
                    }
                ],
            },
        ],
    }
    responses = translate_request(
        body, ANTHROPIC_MESSAGES, OPENAI_RESPONSES, default_max_tokens=DEFAULT_MAX_TOKENS
    )
    assert [item["type"] for item in responses["input"]] == [
        "message",
        "function_call",
        "function_call_output",
    ]


def test_adaptive_thinking_keeps_its_effort_toward_anthropic() -> None:
    request = decode_request(
        {"model": "m", "reasoning_effort": "xhigh", "messages": [{"role": "user", "content": "x"}]},
        OPENAI_CHAT,
    )
    adaptive = NormalizedRequest(
        "m", request.messages, reasoning=Reasoning(effort="xhigh", adaptive=True), temperature=0.3, top_p=0.5
    )
    assert anthropic_request.encode_request(adaptive, default_max_tokens=DEFAULT_MAX_TOKENS) == {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
        "max_tokens": DEFAULT_MAX_TOKENS,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max"},
    }


def test_effort_without_thinking_and_sampling_without_thinking() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 10,
        "output_config": {"effort": "low"},
        "messages": [{"role": "user", "content": "x"}],
    }
    assert anthropic_request.decode_request(body).reasoning == Reasoning(effort="low")
    tight = NormalizedRequest(
        "m", (Message("user", (TextPart("x"),)),), max_tokens=500, reasoning=Reasoning(effort="low")
    )
    encoded = anthropic_request.encode_request(tight, default_max_tokens=DEFAULT_MAX_TOKENS)
    assert "thinking" not in encoded
    assert encoded["max_tokens"] == 500
    budget_only: dict[str, Any] = {**body, "output_config": {}, "thinking": {"type": "enabled"}}
    assert anthropic_request.decode_request(budget_only).reasoning == Reasoning()
    assert "thinking" not in anthropic_request.encode_request(
        anthropic_request.decode_request(budget_only), default_max_tokens=1
    )


def test_chat_reasoning_content_and_refusals_are_read_and_thinking_only_turns_are_left_out() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "response_format": {"type": "text"},
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "reasoning_content": "hmm", "content": None, "refusal": "no"},
        ],
    }
    request = openai_chat_request.decode_request(body)
    assert request.output_schema is None
    assert request.messages[1] == Message("assistant", (ThinkingPart("hmm"), TextPart("no")))
    only_thinking = NormalizedRequest(
        "m", (Message("user", (TextPart("x"),)), Message("assistant", (ThinkingPart("t"),)))
    )
    assert openai_chat_request.encode_request(only_thinking, default_max_tokens=1)["messages"] == [
        {"role": "user", "content": "x"}
    ]


def test_output_schema_description_and_strictness_cross_between_openai_apis() -> None:
    fmt: dict[str, Any] = {"name": "o", "schema": {"type": "object"}, "strict": True, "description": "d"}
    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": fmt},
    }
    responses = translate_request(body, OPENAI_CHAT, OPENAI_RESPONSES, default_max_tokens=1)
    assert responses["text"] == {"format": {"type": "json_schema", **fmt}}
    assert (
        translate_request(responses, OPENAI_RESPONSES, OPENAI_CHAT, default_max_tokens=1)["response_format"]
        == body["response_format"]
    )


def test_a_data_url_that_is_not_base64_stays_a_url() -> None:
    url = "data:text/plain,hello"
    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}],
    }
    assert openai_chat_request.decode_request(body).messages[0].parts == (ImagePart(url=url),)


def test_reasoning_sealed_by_anthropic_reaches_anthropic_and_no_other_api() -> None:
    item: dict[str, Any] = {
        "type": "reasoning",
        "summary": [],
        "encrypted_content": seal(ANTHROPIC_MESSAGES.name, "EqSig"),
    }
    body: dict[str, Any] = {
        "model": "m",
        "input": [{"role": "user", "content": "x"}, item, {"role": "assistant", "content": "y"}],
    }
    anthropic = translate_request(
        body, OPENAI_RESPONSES, ANTHROPIC_MESSAGES, default_max_tokens=DEFAULT_MAX_TOKENS
    )
    assert anthropic["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "",
        "signature": "EqSig",
    }
    chat = translate_request(body, OPENAI_RESPONSES, OPENAI_CHAT, default_max_tokens=DEFAULT_MAX_TOKENS)
    assert chat["messages"][1] == {"role": "assistant", "content": "y"}


def test_tool_kinds_are_kept_on_calls_and_results() -> None:
    request = openai_responses_request.decode_request(CODEX_BODY)
    parts = [part for message in request.messages for part in message.parts]
    calls = [(part.id, part.kind) for part in parts if isinstance(part, ToolCallPart)]
    results = [(part.call_id, part.kind) for part in parts if isinstance(part, ToolResultPart)]
    expected = [("call_s", ToolKind.LOCAL_SHELL), ("call_c", ToolKind.CUSTOM), ("call_f", ToolKind.FUNCTION)]
    assert calls == expected
    assert results == expected


class _OtherApi(WireApi):
    name = "other_api"


def test_an_api_without_request_translation_is_an_invalid_request() -> None:
    with pytest.raises(GatewayError) as decoding:
        decode_request({"model": "m"}, _OtherApi())
    assert decoding.value.kind is ErrorKind.INVALID_REQUEST
    with pytest.raises(GatewayError) as encoding:
        encode_request(NormalizedRequest("m", ()), _OtherApi(), default_max_tokens=1)
    assert encoding.value.kind is ErrorKind.INVALID_REQUEST


_E2E_DATA = Path(__file__).parents[2] / "e2e" / "data"
_REAL_CLIENTS = [
    ("claude_code_request.json", ANTHROPIC_MESSAGES, OPENAI_CHAT),
    ("claude_code_request.json", ANTHROPIC_MESSAGES, OPENAI_RESPONSES),
    ("codex_request.json", OPENAI_RESPONSES, ANTHROPIC_MESSAGES),
    ("codex_request.json", OPENAI_RESPONSES, OPENAI_CHAT),
]


@pytest.mark.parametrize(("fixture", "source", "target"), _REAL_CLIENTS, ids=lambda v: getattr(v, "name", v))
def test_what_real_clients_send_translates_to_what_the_target_sdk_accepts(
    fixture: str, source: WireApi, target: WireApi
) -> None:
    body: dict[str, Any] = json.loads((_E2E_DATA / fixture).read_text())
    translated = translate_request(
        body,
        source,
        target,
        default_max_tokens=DEFAULT_MAX_TOKENS,
        droppable_tool_types=frozenset({"web_search"}),
    )
    validate_with_sdk(translated, target)
    without_web_search = [tool for tool in body["tools"] if tool.get("type") != "web_search"]
    client = decode_request({**body, "tools": without_web_search}, source)
    upstream = decode_request(translated, target)
    assert [tool.name for tool in upstream.tools] == [tool.name for tool in client.tools]
    call_ids = [
        part.id for message in client.messages for part in message.parts if isinstance(part, ToolCallPart)
    ]
    result_ids = [
        part.call_id
        for message in client.messages
        for part in message.parts
        if isinstance(part, ToolResultPart)
    ]
    assert call_ids
    assert [
        part.id for message in upstream.messages for part in message.parts if isinstance(part, ToolCallPart)
    ] == call_ids
    assert [
        part.call_id
        for message in upstream.messages
        for part in message.parts
        if isinstance(part, ToolResultPart)
    ] == result_ids


def test_empty_content_and_plain_text_format_carry_nothing() -> None:
    chat: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "system", "content": None}, {"role": "user", "content": "x"}],
    }
    assert openai_chat_request.decode_request(chat).system == ()
    responses: dict[str, Any] = {"model": "m", "input": "x", "text": {"format": {"type": "text"}}}
    assert openai_responses_request.decode_request(responses).output_schema is None


def test_an_image_the_assistant_made_is_not_sent_to_chat() -> None:
    request = NormalizedRequest(
        "m",
        (
            Message("user", (TextPart("x"),)),
            Message("assistant", (TextPart("y"), ImagePart(url="https://e/i.png"))),
        ),
    )
    assert openai_chat_request.encode_request(request, default_max_tokens=1)["messages"][1] == {
        "role": "assistant",
        "content": "y",
    }
