"""What search, tool names and previews see of each client API's bodies."""

from __future__ import annotations

import orjson

from luthien.records.model import TransactionRecord
from luthien.storage.extract import PREVIEW_MAX_CHARS, extract
from tests.storage.records import make_record


def _record(request: object, response: object | None, **overrides: object) -> TransactionRecord:
    return make_record(
        0,
        original_request=orjson.dumps(request),
        original_response=None if response is None else orjson.dumps(response),
        **overrides,
    )


def test_openai_chat_new_messages_and_tool_calls() -> None:
    request = {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "SYSTEM PROMPT"},
            {"role": "user", "content": "old question"},
            {"role": "assistant", "content": "old answer"},
            {"role": "tool", "tool_call_id": "c1", "content": "Tool Output"},
            {"role": "user", "content": [{"type": "text", "text": "New Question"}]},
        ],
    }
    response = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "shell", "arguments": '{"cmd":"LS"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }

    extracted = extract(_record(request, response))

    assert extracted.tool_names == ("shell",)
    assert extracted.preview == "New Question"
    assert "tool output" in extracted.search_text
    assert "new question" in extracted.search_text
    assert '{"cmd":"ls"}' in extracted.search_text
    for absent in ("old question", "old answer", "system prompt", "chatcmpl", "tool_calls"):
        assert absent not in extracted.search_text


def test_openai_responses_string_input_and_function_calls() -> None:
    response = {
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking Aloud"}]},
            {"type": "function_call", "call_id": "c1", "name": "exec", "arguments": '{"x":1}'},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done"}]},
        ]
    }

    extracted = extract(_record({"model": "m", "input": "Hello There", "instructions": "be brief"}, response))

    assert extracted.tool_names == ("exec",)
    assert extracted.preview == "Hello There"
    assert extracted.search_text.split("\n")[0] == "hello there"
    assert "thinking aloud" in extracted.search_text
    assert "be brief" not in extracted.search_text


def test_non_json_bodies_contribute_nothing_and_errors_are_searchable() -> None:
    record = make_record(
        0, original_request=b"\xff not json", original_response=None, error="Upstream Timeout"
    )

    extracted = extract(record)

    assert (extracted.tool_names, extracted.preview, extracted.search_text) == ((), "", "upstream timeout")


def test_the_preview_is_short_and_collapses_whitespace() -> None:
    request = {
        "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "a  \\n b " * 1000}]}]
    }

    preview = extract(_record(request, None)).preview

    assert len(preview) == PREVIEW_MAX_CHARS
    assert "  " not in preview


def test_search_text_follows_the_json_in_order_and_skips_scalars_and_markers() -> None:
    request: dict[str, object] = {
        "messages": [
            {
                "role": "user",
                "content": [
                    [["Deep One"], 7, True, None, {"id": "ID-NOT-SEARCHED", "text": "Deep Two"}],
                    {"cache_control": {"type": "ephemeral"}, "text": "Deep Three"},
                ],
            }
        ]
    }
    response: dict[str, object] = {
        "content": [
            {"type": "text", "text": "Answer"},
            "not a block",
            {"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "/A/B", "lines": [1, 2]}},
            {"type": "server_tool_use", "name": "web_search", "input": {}},
            {"type": "tool_use", "name": 42},
        ],
        "output": [{"type": "custom_tool_call", "name": "patch", "input": "*** Begin"}],
    }

    extracted = extract(_record(request, response))

    assert extracted.search_text.split("\n") == [
        "deep one",
        "deep two",
        "deep three",
        "answer",
        "not a block",
        "read",
        "/a/b",
        "web_search",
        "patch",
        "*** begin",
    ]
    assert extracted.tool_names == ("read", "web_search", "patch")
    assert extracted.preview == "Deep One Deep Two Deep Three"
