"""Reading records for people: JSON laid out with diff marks, and a call read as a session turn."""

from __future__ import annotations

import json
from typing import Any

import orjson

from luthien.admin.serialize import record_json
from luthien.admin.turns import turn_json, turn_view
from luthien.records.model import RecordedEvent, Timing, TransactionRecord, TransactionStatus
from luthien.web.jsonview import body_views, json_lines

ORIGINAL_RESPONSE: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-test",
    "content": [
        {"type": "text", "text": "I will clean up."},
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "rm -rf /"}},
        {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "README.md"}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 10, "output_tokens": 20},
}
BLOCKED_TEXT = "**Blocked tool call: `Bash`**\n\nDeletes everything."
FINAL_RESPONSE: dict[str, Any] = {
    **ORIGINAL_RESPONSE,
    "content": [
        {"type": "text", "text": "I will clean up."},
        {"type": "text", "text": BLOCKED_TEXT},
        {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "README.md"}},
    ],
}
REQUEST: dict[str, Any] = {
    "model": "claude-test",
    "max_tokens": 100,
    "system": "You are an agent.",
    "messages": [
        {"role": "user", "content": "Tidy the repo"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_0", "name": "Ls", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "a b c"}]},
    ],
}


def blocked_record() -> TransactionRecord:
    return TransactionRecord(
        transaction_id="tx-1",
        session_id="session-1",
        client_api="anthropic_messages",
        endpoint="/v1/messages",
        model="claude-test",
        upstream="anthropic",
        policy="guard",
        status=TransactionStatus.BLOCKED,
        http_status=200,
        streaming=True,
        timing=Timing(100.0, 100.1, 100.2, 101.5),
        original_request=orjson.dumps(REQUEST),
        original_response=orjson.dumps(ORIGINAL_RESPONSE),
        final_response=orjson.dumps(FINAL_RESPONSE),
        events=(
            RecordedEvent(
                "judge.decision",
                {
                    "tool": "Bash",
                    "tool_call_id": "toolu_1",
                    "probability": 0.97,
                    "explanation": "Wipes the disk.",
                    "blocked": True,
                    "latency_ms": 12.5,
                },
                "guard",
                100.3,
            ),
            RecordedEvent(
                "judge.decision",
                {
                    "tool": "Read",
                    "tool_call_id": "toolu_2",
                    "probability": 0.01,
                    "explanation": "Harmless.",
                    "blocked": False,
                },
                "guard",
                100.3,
            ),
        ),
    )


def test_lines_read_like_indented_json_and_know_their_paths() -> None:
    value = {"a": [1, {"b": "x"}], "c": {}, "d": []}

    lines = json_lines(value, {"/a/1/b": "changed"})

    assert "\n".join(line.text for line in lines) == json.dumps(value, indent=2)
    assert [line.text.strip() for line in lines if line.mark] == ['"b": "x"']


def test_a_marked_object_marks_every_line_inside_it() -> None:
    lines = json_lines({"keep": 1, "gone": {"x": 1, "y": [2]}}, {"/gone": "removed"})

    assert [line.mark for line in lines] == [
        "",
        "",
        "removed",
        "removed",
        "removed",
        "removed",
        "removed",
        "removed",
        "",
    ]


def test_both_versions_of_a_changed_response_are_marked_where_they_differ() -> None:
    record = blocked_record()
    views = body_views(record.original_response, record.final_response)

    assert views.pair.changed
    original_marked = {line.path for line in views.original_lines if line.mark}
    final_marked = {line.path for line in views.final_lines if line.mark}
    assert "/content/1/input/command" in original_marked
    assert "/content/1/text" in final_marked
    assert not any(path.startswith("/content/0") or path.startswith("/content/2") for path in final_marked)


def test_an_unchanged_body_has_one_unmarked_version() -> None:
    views = body_views(orjson.dumps(REQUEST), None)

    assert not views.pair.changed
    assert views.final_lines is views.original_lines
    assert not any(line.mark for line in views.original_lines)


def test_a_blocked_call_reads_as_a_turn_with_the_blocked_tool_call_and_its_verdict() -> None:
    view = turn_view(blocked_record())

    assert [(t.role, t.text) for t in view.prompt] == [("user", "")]
    assert [r.content for r in view.prompt[0].tool_results] == ["a b c"]
    assert view.texts == ("I will clean up.",)
    assert view.policy_texts == (BLOCKED_TEXT,)
    calls = {call.name: call for call in view.tool_calls}
    assert calls["Bash"].blocked
    assert not calls["Read"].blocked
    assert [d.explanation for d in calls["Bash"].decisions] == ["Wipes the disk."]
    assert calls["Bash"].decisions[0].probability == 0.97
    assert json.loads(calls["Bash"].arguments) == {"command": "rm -rf /"}


def test_the_turn_json_flags_the_blocked_call() -> None:
    data = turn_json(turn_view(blocked_record()))

    assert [(c["name"], c["blocked"]) for c in data["tool_calls"]] == [("Bash", True), ("Read", False)]
    assert data["tool_calls"][0]["decisions"][0]["explanation"] == "Wipes the disk."
    assert data["policy_texts"] == [BLOCKED_TEXT]


def test_the_record_json_carries_both_versions_and_the_diff() -> None:
    data = record_json(blocked_record())

    assert data["request"] == {
        "original": REQUEST,
        "final": REQUEST,
        "changed": False,
        "diff": [],
        "diff_truncated": False,
    }
    assert data["response"]["original"] == ORIGINAL_RESPONSE
    assert data["response"]["final"] == FINAL_RESPONSE
    assert {"path": "/content/1/text", "op": "added", "after": BLOCKED_TEXT} in data["response"]["diff"]
    assert data["timing"]["duration_ms"] == 1500.0
    assert data["blocked"] is True


def test_a_body_that_is_not_json_is_kept_as_text() -> None:
    record = TransactionRecord(
        "tx-2",
        None,
        "openai_chat",
        "/v1/chat/completions",
        None,
        None,
        None,
        TransactionStatus.ERROR,
        502,
        False,
        Timing(1.0),
        original_request=b"{}",
        original_response=b"upstream exploded",
    )

    assert record_json(record)["response"]["original"] == "upstream exploded"
    assert turn_view(record).tool_calls == ()
