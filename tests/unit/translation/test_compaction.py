"""Codex's remote compaction on translated routes: the summary request, the compaction item, its return.

Requests are literal bodies as Codex sends them (trimmed), translated to literal upstream bodies.
Answers are the fake provider's upstream replies run through the real pipeline
(`run_stream`/`run_body` with the compaction stage around the translating one) and read back by the
OpenAI SDK, the way Codex reads them.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import orjson
import pytest

from luthien.activity.log import ActivityLog
from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.pipeline.stage import PolicyStage, TranslationStage
from luthien.policies.all_caps import AllCapsPolicy
from luthien.policy.base import PolicyConfig, PolicyContext
from luthien.testing.streams import WIRE_APIS, ApiName, ModelReply, error_reply, model_reply
from luthien.translation.compaction import (
    SUMMARY_ENVELOPE,
    SUMMARY_PREFIX,
    SUMMARY_PROMPT,
    CompactionStage,
    asks_for_compaction,
    compaction_item,
    open_summary,
    seal_summary,
    summary_text,
    translatable_body,
)
from luthien.translation.envelope import seal
from luthien.translation.request_model import UntranslatableField
from luthien.translation.requests import translate_request
from tests.unit.translation.sdk_views import MODEL, serve, translate

MAX_TOKENS = 4096
SUMMARY = "The user asked for a marker file; `touch marker.txt` ran and succeeded. Nothing remains — done ✓."
SEALED = "luthien.v1.luthien_summary." + (
    "VGhlIHVzZXIgYXNrZWQgZm9yIGEgbWFya2VyIGZpbGU7IGB0b3VjaCBtYXJrZXIudHh0YCByYW4gYW5kIHN1Y2NlZWRlZC4gTm90aGlu"
    "ZyByZW1haW5zIOKAlCBkb25lIOKcky4"
)
"""`SUMMARY` sealed: the envelope name, then the summary's UTF-8 in base64url without padding."""
SHELL_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command",
    "strict": False,
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
}
DEVELOPER = {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]}
USER = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "Leave a marker file."}],
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "status": "completed",
    "name": "exec_command",
    "arguments": '{"cmd":"touch marker.txt"}',
    "call_id": "call_codex_01",
}
OUTPUT = {"type": "function_call_output", "call_id": "call_codex_01", "output": "Process exited with code 0"}
TRIGGER_BODY: dict[str, Any] = {
    "model": "gpt-5",
    "stream": True,
    "input": [DEVELOPER, USER, CALL, OUTPUT, {"type": "compaction_trigger"}],
    "tools": [SHELL_TOOL],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "store": False,
}
"""What Codex sends to compact (its recorded request, trimmed: tests/e2e/data/...trigger_request.json)."""
AFTER_BODY: dict[str, Any] = {
    "model": "gpt-5",
    "stream": True,
    "input": [DEVELOPER, USER, {"type": "compaction", "id": "cmp_01", "encrypted_content": SEALED}],
    "tools": [SHELL_TOOL],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "store": False,
}
"""Codex's next request: developer and user messages kept, then the compaction item unchanged."""
ANTHROPIC_TOOL = {
    "name": "exec_command",
    "description": "Runs a command",
    "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
}
CHAT_TOOL = {
    "type": "function",
    "function": {
        "name": "exec_command",
        "description": "Runs a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
        "strict": False,
    },
}


def test_a_compaction_request_asks_an_anthropic_model_for_a_summary_without_tools() -> None:
    assert translate_request(
        TRIGGER_BODY, OPENAI_RESPONSES, ANTHROPIC_MESSAGES, default_max_tokens=MAX_TOKENS
    ) == {
        "model": "gpt-5",
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Leave a marker file."}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "call_codex_01",
                        "name": "exec_command",
                        "input": {"cmd": "touch marker.txt"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_codex_01",
                        "content": [{"type": "text", "text": "Process exited with code 0"}],
                    },
                    {"type": "text", "text": SUMMARY_PROMPT},
                ],
            },
        ],
        "max_tokens": MAX_TOKENS,
        "tools": [ANTHROPIC_TOOL],
        "tool_choice": {"type": "none"},
        "stream": True,
    }


def test_a_compaction_request_asks_a_chat_model_for_a_summary_without_tools() -> None:
    assert translate_request(TRIGGER_BODY, OPENAI_RESPONSES, OPENAI_CHAT, default_max_tokens=MAX_TOKENS) == {
        "model": "gpt-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Leave a marker file."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_codex_01",
                        "type": "function",
                        "function": {"name": "exec_command", "arguments": '{"cmd":"touch marker.txt"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_codex_01", "content": "Process exited with code 0"},
            {"role": "user", "content": SUMMARY_PROMPT},
        ],
        "tools": [CHAT_TOOL],
        "parallel_tool_calls": True,
        "tool_choice": "none",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_a_compaction_request_without_tools_sends_no_tool_choice() -> None:
    body = {"model": "gpt-5", "input": [USER, {"type": "compaction_trigger"}], "tool_choice": "auto"}

    assert translatable_body(body) == {
        "model": "gpt-5",
        "input": [
            USER,
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": SUMMARY_PROMPT}]},
        ],
    }


def test_our_compaction_item_reaches_an_anthropic_model_as_the_summary() -> None:
    assert translate_request(
        AFTER_BODY, OPENAI_RESPONSES, ANTHROPIC_MESSAGES, default_max_tokens=MAX_TOKENS
    ) == {
        "model": "gpt-5",
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Leave a marker file."},
                    {"type": "text", "text": SUMMARY_PREFIX + SUMMARY},
                ],
            }
        ],
        "max_tokens": MAX_TOKENS,
        "tools": [ANTHROPIC_TOOL],
        "tool_choice": {"type": "auto"},
        "stream": True,
    }


def test_our_compaction_item_reaches_a_chat_model_as_the_summary() -> None:
    translated = translate_request(AFTER_BODY, OPENAI_RESPONSES, OPENAI_CHAT, default_max_tokens=MAX_TOKENS)

    assert translated["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Leave a marker file."},
                {"type": "text", "text": SUMMARY_PREFIX + SUMMARY},
            ],
        },
    ]
    assert translated["tool_choice"] == "auto"


def test_a_body_without_compaction_items_is_returned_as_is() -> None:
    body = {"model": "gpt-5", "input": [USER, CALL, OUTPUT]}

    assert translatable_body(body) is body
    assert translatable_body({"model": "gpt-5", "input": "hi"}) == {"model": "gpt-5", "input": "hi"}
    assert not asks_for_compaction(body)
    assert not asks_for_compaction({"input": []})
    assert not asks_for_compaction({"input": "compaction_trigger"})
    assert not asks_for_compaction({"input": ["compaction_trigger"]})
    assert asks_for_compaction(TRIGGER_BODY)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (
            {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAABopenai"},
            "input[1].encrypted_content",
        ),
        ({"type": "compaction", "id": "cmp_1"}, "input[1].encrypted_content"),
        (
            {"type": "compaction", "id": "cmp_1", "encrypted_content": seal(SUMMARY_ENVELOPE, "not*base64")},
            "input[1].encrypted_content",
        ),
        (
            {"type": "compaction", "id": "cmp_1", "encrypted_content": seal(SUMMARY_ENVELOPE, "__8")},
            "input[1].encrypted_content",
        ),
        ({"type": "compaction_trigger"}, "input[1].type"),
    ],
    ids=["openai-compaction", "no-content", "not-base64", "not-utf8", "trigger-not-last"],
)
def test_a_compaction_item_we_cannot_read_is_refused_by_field(item: dict[str, Any], field: str) -> None:
    body = {"model": "gpt-5", "input": [USER, item, USER]}

    with pytest.raises(UntranslatableField) as caught:
        translate_request(body, OPENAI_RESPONSES, ANTHROPIC_MESSAGES, default_max_tokens=MAX_TOKENS)

    assert caught.value.field == field


def test_a_summary_is_sealed_in_base64url_and_opened_back() -> None:
    assert seal_summary(SUMMARY) == SEALED
    assert open_summary(SEALED) == SUMMARY
    assert open_summary(seal_summary("")) == ""
    assert open_summary("gAAAABopenai") is None
    assert open_summary(seal("anthropic_messages", "sig")) is None
    item = compaction_item(SUMMARY)
    assert item["type"] == "compaction"
    assert item["id"].startswith("cmp_")
    assert item["encrypted_content"] == SEALED
    assert compaction_item(SUMMARY)["id"] != item["id"]


def test_the_summary_is_the_text_of_the_message_items() -> None:
    response: dict[str, Any] = {
        "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [{"type": "output_text", "text": "One. "}, {"type": "refusal"}]},
            "not an item",
            {"type": "message", "content": [{"type": "output_text", "text": "Two."}, "not a part"]},
        ]
    }

    assert summary_text(response) == "One. Two."
    assert summary_text({}) == ""


def _events(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in data.decode().splitlines() if line.startswith("data:")]


def _sequence_numbers(data: bytes) -> list[int]:
    return [event["sequence_number"] for event in _events(data)]


def _read(data: bytes, stream: bool) -> Any:
    """The response Codex's SDK reads from the bytes, and (streaming) the events it saw."""
    with openai.OpenAI(base_url=serve(data, stream) + "/v1", api_key="k", max_retries=0) as client:
        if stream:
            with client.responses.stream(model=MODEL, input="hi") as events:
                seen = [event.type for event in events]
                return events.get_final_response(), seen
        return client.responses.create(model=MODEL, input="hi"), None


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize("upstream", ["anthropic", "openai_chat"])
def test_the_answer_is_exactly_one_compaction_item_holding_the_summary(
    upstream: ApiName, stream: bool
) -> None:
    reply = model_reply(upstream, SUMMARY, stream=stream)
    stage = CompactionStage(TranslationStage(OPENAI_RESPONSES, WIRE_APIS[upstream]))

    data = translate(reply, "openai_responses", stage)
    response, seen = _read(data, stream)

    (item,) = response.output
    assert item.type == "compaction"
    assert item.id.startswith("cmp_")
    assert open_summary(item.encrypted_content) == SUMMARY
    assert response.status == "completed"
    assert response.usage is not None
    if stream:
        # The answer's start as it came (`response.in_progress` if the translation sends one), then
        # the one item, numbered on from there.
        assert seen[0] == "response.created"
        assert set(seen[1:-3]) <= {"response.in_progress"}
        assert seen[-3:] == ["response.output_item.added", "response.output_item.done", "response.completed"]
        assert _sequence_numbers(data) == list(range(len(seen)))


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
def test_the_policy_runs_on_the_summary_before_it_is_sealed(stream: bool) -> None:
    ctx = PolicyContext("tx", "all_caps", ActivityLog())
    policy = PolicyStage(AllCapsPolicy(PolicyConfig(), "all_caps"), ctx, OPENAI_RESPONSES, ANTHROPIC_MESSAGES)

    data = translate(
        model_reply("anthropic", "keep going", stream=stream), "openai_responses", CompactionStage(policy)
    )

    (item,) = _read(data, stream)[0].output
    assert open_summary(item.encrypted_content) == "KEEP GOING"


def test_a_failed_summary_reaches_codex_as_a_failure_without_items() -> None:
    stage = CompactionStage(TranslationStage(OPENAI_RESPONSES, ANTHROPIC_MESSAGES))

    data = translate(error_reply("anthropic", "partial summary"), "openai_responses", stage)

    assert [event["type"] for event in _events(data)] == ["response.created", "error"]
    assert _events(data)[-1]["message"] == "Overloaded"
    assert _sequence_numbers(data) == [0, 1]


def test_an_incomplete_summary_body_reaches_codex_as_it_is() -> None:
    reply = ModelReply(
        "anthropic",
        body=orjson.dumps(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [{"type": "text", "text": "A summary that was cu"}],
                "stop_reason": "max_tokens",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 4096},
            }
        ),
    )
    stage = CompactionStage(TranslationStage(OPENAI_RESPONSES, ANTHROPIC_MESSAGES))

    response = orjson.loads(translate(reply, "openai_responses", stage))

    assert response["status"] == "incomplete"
    assert [item["type"] for item in response["output"]] == ["message"]
