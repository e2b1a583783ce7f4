"""The small parts of recording.

Sessions, secrets, reading bodies, summaries, the memory sink, and a call's own activity collection.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import orjson
import pytest

from luthien.activity.log import ActivityEvent, ActivityLog, CallActivity
from luthien.call.events import ToolCall
from luthien.call.request import CallRequest
from luthien.policy.base import BLOCKED_EVENT
from luthien.policy.helpers import send_blocked_message
from luthien.records.content import preview_of, tool_names_of, usage_of
from luthien.records.memory import MemoryRecordSink, body_bytes
from luthien.records.model import (
    RecordedEvent,
    ShadowOutcome,
    ShadowResult,
    Timing,
    TransactionRecord,
    TransactionStatus,
    Usage,
)
from luthien.records.secrets import REDACTED, Scrubber, header_secrets, is_credential_header, safe_headers
from luthien.records.session import MAX_SESSION_ID_CHARS, session_id
from luthien.records.summary import summarize, summary_fields
from luthien.wire.formats import WireFormat
from tests.support.policy_runs import TRANSACTION_ID, make_ctx

# -- sessions ----------------------------------------------------------------------------------------

SESSION = "2b9c6f0e-8e1d-4a57-b1d2-7c3f5a9e0d14"


@pytest.mark.parametrize(
    ("headers", "body", "wire_format", "expected"),
    [
        ([("x-claude-code-session-id", SESSION)], {}, WireFormat.ANTHROPIC, SESSION),
        ([("session-id", SESSION)], {"user": "someone"}, WireFormat.OPENAI, SESSION),
        (
            [("session-id", "codex"), ("x-claude-code-session-id", "claude")],
            None,
            WireFormat.OPENAI,
            "claude",
        ),
        ([("x-claude-code-session-id", "  ")], {"metadata": {"user_id": "u"}}, WireFormat.ANTHROPIC, "u"),
        (
            [],
            {"metadata": {"user_id": orjson.dumps({"session_id": SESSION}).decode()}},
            WireFormat.ANTHROPIC,
            SESSION,
        ),
        (
            [],
            {"metadata": {"user_id": orjson.dumps({"sessionId": SESSION}).decode()}},
            WireFormat.ANTHROPIC,
            SESSION,
        ),
        (
            [],
            {"metadata": {"user_id": orjson.dumps({"device_id": "d"}).decode()}},
            WireFormat.ANTHROPIC,
            None,
        ),
        ([], {"metadata": {"user_id": "{not json"}}, WireFormat.ANTHROPIC, "{not json"),
        (
            [],
            {"metadata": {"user_id": f"user_abc_account_def_session_{SESSION}"}},
            WireFormat.ANTHROPIC,
            SESSION,
        ),
        ([], {"metadata": {"user_id": "user_abc_account_def_session_"}}, WireFormat.ANTHROPIC, None),
        ([], {"metadata": "not an object"}, WireFormat.ANTHROPIC, None),
        ([], {"user": "alice"}, WireFormat.ANTHROPIC, None),  # not an Anthropic field
        ([], {"metadata": {"user_id": "u"}}, WireFormat.OPENAI, None),  # not an OpenAI source
        ([], {"user": "", "prompt_cache_key": SESSION}, WireFormat.OPENAI, SESSION),
        ([], {"user": 7}, WireFormat.OPENAI, None),
        ([], None, WireFormat.ANTHROPIC, None),
    ],
)
def test_session_sources(
    headers: list[tuple[str, str]], body: dict[str, Any] | None, wire_format: WireFormat, expected: str | None
) -> None:
    assert session_id(headers, body, wire_format) == expected


def test_a_long_session_id_is_cut() -> None:
    assert session_id([("session-id", "s" * 1000)], None, WireFormat.OPENAI) == "s" * MAX_SESSION_ID_CHARS


# -- secrets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "authorization",
        "x-api-key",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
        "x-amz-security-token",
        "openai-organization-secret",
        "x-auth-request-user",
        "anthropic-key",
    ],
)
def test_credential_headers_are_recognised(name: str) -> None:
    assert is_credential_header(name)


@pytest.mark.parametrize(
    "name", ["user-agent", "anthropic-version", "content-type", "x-claude-code-session-id"]
)
def test_ordinary_headers_are_kept(name: str) -> None:
    assert not is_credential_header(name)


def test_safe_headers_drop_credentials_and_join_repeats() -> None:
    headers = [("authorization", "Bearer k"), ("accept", "a"), ("accept", "b"), ("cookie", "c=1")]

    assert safe_headers(headers) == {"accept": "a, b"}


def test_header_secrets_strip_the_auth_scheme() -> None:
    headers = [
        ("authorization", "Bearer sk-one"),
        ("x-api-key", " sk-two "),
        ("proxy-authorization", "Basic abc"),
        ("accept", "x"),
    ]

    assert header_secrets(headers) == [b"sk-one", b"sk-two", b"abc"]


def test_the_scrubber_replaces_known_secrets_everywhere() -> None:
    scrubber = Scrubber()
    scrubber.add("sk-secret-123456", b"other-secret-999", None, "short", "sk-secret-123456")

    assert scrubber.scrub(b'{"key": "sk-secret-123456"}') == b'{"key": "' + REDACTED + b'"}'
    assert scrubber.scrub_optional(None) is None
    assert scrubber.scrub_text("short and other-secret-999") == "short and [redacted]"
    assert scrubber.scrub_value({"a": ["x sk-secret-123456", 3, {"b": "other-secret-999"}], "n": None}) == {
        "a": ["x [redacted]", 3, {"b": "[redacted]"}],
        "n": None,
    }


def test_header_secrets_are_found_after_ordinary_headers() -> None:
    headers = [
        ("accept", "x"),
        ("user-agent", "sdk"),
        ("authorization", "Bearer sk-after"),
        ("cookie", "c=1"),
    ]

    assert header_secrets(headers) == [b"sk-after", b"c=1"]


def test_a_header_value_that_is_not_text_is_still_scrubbed() -> None:
    # A lone surrogate (a non-UTF-8 byte decoded with surrogateescape) cannot be encoded as UTF-8:
    # it is replaced by `?`, and the rest of the value is still a secret.
    headers = [("x-api-key", "sk-\udcff-long-secret")]

    assert header_secrets(headers) == [b"sk-?-long-secret"]
    scrubber = Scrubber()
    scrubber.add("sk-\udcff-long-secret")
    assert scrubber.scrub(b"echo sk-?-long-secret") == b"echo " + REDACTED


def test_the_scrubber_keeps_the_secrets_after_a_missing_one() -> None:
    scrubber = Scrubber()
    scrubber.add(None, "sk-after-none-1")

    assert scrubber.scrub(b"sk-after-none-1") == REDACTED


def test_secrets_of_the_minimum_length_are_scrubbed_and_shorter_ones_are_not() -> None:
    scrubber = Scrubber()
    scrubber.add("12345678", "abcdefg")

    assert scrubber.scrub(b"12345678 abcdefg") == REDACTED + b" abcdefg"
    assert scrubber.scrub(b"1234567") == b"1234567"


def test_scrub_optional_scrubs_bytes() -> None:
    scrubber = Scrubber()
    scrubber.add("sk-secret-123456")

    assert scrubber.scrub_optional(b"error: sk-secret-123456") == b"error: " + REDACTED
    assert scrubber.scrub_optional(b"nothing secret") == b"nothing secret"


def test_scrub_text_of_a_secret_that_cuts_a_character_still_returns_text() -> None:
    # A secret given as bytes may start inside a multi-byte character of the text: what is left of
    # the character becomes U+FFFD rather than an error.
    scrubber = Scrubber()
    scrubber.add(b"\xa9-secret-value")

    assert scrubber.scrub_text("caf\u00e9-secret-value!") == "caf\ufffd[redacted]!"


def test_an_empty_scrubber_returns_values_unchanged() -> None:
    value = {"a": "b"}

    assert Scrubber().scrub_value(value) is value


# -- reading bodies ---------------------------------------------------------------------------------


def test_usage_of_each_api() -> None:
    anthropic = {
        "usage": {
            "input_tokens": 1,
            "output_tokens": 2,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": 4,
        }
    }
    chat = {
        "usage": {"prompt_tokens": 5, "completion_tokens": 6, "prompt_tokens_details": {"cached_tokens": 7}}
    }
    responses = {
        "usage": {"input_tokens": 8, "output_tokens": 9, "input_tokens_details": {"cached_tokens": 10}}
    }

    assert usage_of("anthropic_messages", anthropic) == Usage(1, 2, 3, 4)
    assert usage_of("openai_chat", chat) == Usage(5, 6, 7, None)
    assert usage_of("openai_responses", responses) == Usage(8, 9, 10, None)
    assert usage_of("openai_chat", {"usage": {"prompt_tokens": True}}) == Usage()
    assert usage_of("anthropic_messages", None) == Usage()


def test_tool_names_of_each_api() -> None:
    anthropic = {
        "content": [
            {"type": "text"},
            {"type": "tool_use", "name": "Bash"},
            {"type": "server_tool_use", "name": "web_search"},
        ]
    }
    chat = {
        "choices": [{"message": {"tool_calls": [{"function": {"name": "a"}}, {"function": {"name": "b"}}]}}]
    }
    responses = {
        "output": [{"type": "message"}, {"type": "function_call", "name": "f"}, {"type": "local_shell_call"}]
    }

    assert tool_names_of("anthropic_messages", anthropic) == ("Bash", "web_search")
    assert tool_names_of("openai_chat", chat) == ("a", "b")
    assert tool_names_of("openai_chat", {"choices": []}) == ()
    assert tool_names_of("openai_responses", responses) == ("f", "local_shell")
    assert tool_names_of("openai_responses", None) == ()


def test_preview_is_the_last_user_text_on_one_line() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": [{"type": "text", "text": "second\n\n  question"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
        ]
    }

    assert preview_of(CallRequest(WireFormat.ANTHROPIC, body, None)) == "second question"


def test_preview_of_a_tool_result_and_of_long_text() -> None:
    chat = {
        "messages": [
            {"role": "user", "content": "x" * 500},
            {"role": "tool", "tool_call_id": "c", "content": "done"},
        ]
    }
    responses = {"input": "y" * 500}

    assert preview_of(CallRequest(WireFormat.OPENAI, chat, None)) == "done"
    assert preview_of(CallRequest(WireFormat.OPENAI, responses, None), limit=10) == "y" * 9 + "…"
    assert preview_of(CallRequest(WireFormat.OPENAI, {"input": []}, None)) == ""


# -- summaries --------------------------------------------------------------------------------------


def make_record(**overrides: Any) -> TransactionRecord:
    values: dict[str, Any] = {
        "transaction_id": "tx-1",
        "session_id": "s-1",
        "client_api": "anthropic_messages",
        "endpoint": "/v1/messages",
        "model": "claude-sonnet-4-6",
        "upstream": "anthropic",
        "policy": "guard",
        "status": TransactionStatus.BLOCKED,
        "http_status": 200,
        "streaming": True,
        "timing": Timing(received_at=100.0, first_token_at=100.25, ended_at=101.0),
        "usage": Usage(10, 20, 0, 0),
        "original_request": orjson.dumps({"messages": [{"role": "user", "content": "delete it all"}]}),
        "original_response": orjson.dumps({"content": [{"type": "tool_use", "name": "Bash"}]}),
        "events": (
            RecordedEvent("judge.decision", {}, "guard", 100.5),
            RecordedEvent("policy.blocked", {}, "guard", 100.6),
            RecordedEvent("judge.decision", {}, "guard", 100.7),
        ),
    }
    return TransactionRecord(**{**values, **overrides})


def test_summarize_a_record() -> None:
    summary = summarize(make_record())

    assert summary.transaction_id == "tx-1"
    assert summary.status is TransactionStatus.BLOCKED
    assert summary.duration_ms == 1000.0
    assert summary.time_to_first_token_ms == 250.0
    assert summary.tool_names == ("Bash",)
    assert summary.event_types == ("judge.decision", "policy.blocked")
    assert summary.preview == "delete it all"
    fields = summary_fields(summary)
    assert fields["status"] == "blocked"
    assert fields["usage"] == {
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_read_tokens": 0,
        "cache_creation_tokens": 0,
    }
    assert fields["tool_names"] == ["Bash"]
    assert orjson.loads(orjson.dumps(fields)) == fields


def test_summarize_a_record_without_bodies() -> None:
    summary = summarize(make_record(original_request=b"not json", original_response=None, events=()))

    assert summary.preview == ""
    assert summary.tool_names == ()
    assert summary.event_types == ()


# -- the memory sink -------------------------------------------------------------------------------


def test_the_memory_sink_is_bounded_by_count_and_bytes() -> None:
    by_count = MemoryRecordSink(capacity=2)
    for number in range(3):
        by_count.submit(make_record(transaction_id=f"tx-{number}"))
    size = body_bytes(make_record())
    by_bytes = MemoryRecordSink(max_bytes=size * 2)
    for number in range(3):
        by_bytes.submit(make_record(transaction_id=f"tx-{number}"))
    huge = MemoryRecordSink(max_bytes=1)
    huge.submit(make_record())

    assert [r.transaction_id for r in by_count.records] == ["tx-1", "tx-2"]
    assert [r.transaction_id for r in by_bytes.records] == ["tx-1", "tx-2"]
    assert len(huge.records) == 1  # the newest is always kept
    assert by_count.get("tx-0") is None
    assert by_count.get("tx-2") is not None


def test_the_memory_sink_wakes_a_waiting_thread() -> None:
    sink = MemoryRecordSink()
    found: list[TransactionRecord | None] = []
    waiter = threading.Thread(target=lambda: found.append(sink.wait("tx-late", 30.0)))
    waiter.start()

    sink.submit(make_record(transaction_id="tx-other"))
    sink.submit(make_record(transaction_id="tx-late"))
    waiter.join(30.0)

    assert [record.transaction_id for record in found if record] == ["tx-late"]
    assert sink.wait("tx-never", 0) is None


# -- a call's own activity ---------------------------------------------------------------------------


def test_call_activity_keeps_the_calls_events_and_forwards_them() -> None:
    log = ActivityLog()
    heard: list[ActivityEvent] = []
    activity = CallActivity(log, heard.append)
    ctx = make_ctx("guard", activity=activity)

    ctx.record("judge.decision", tool="Bash")
    ctx.for_policy("other").record("other.note")

    assert [event.type for event in activity.events] == ["judge.decision", "other.note"]
    assert [event.policy for event in activity.events] == ["guard", "other"]
    assert log.events(transaction_id=TRANSACTION_ID) == activity.events
    assert heard == activity.events


def test_a_failing_listener_does_not_stop_the_call() -> None:
    def broken(event: ActivityEvent) -> None:
        raise RuntimeError("listener bug")

    activity = CallActivity(ActivityLog(), broken)
    activity.publish(ActivityEvent("tx", "a.b"))

    assert len(activity.events) == 1


def test_send_blocked_message_records_the_block_given_the_context() -> None:
    activity = CallActivity(ActivityLog())
    call = ToolCall("toolu_1", "Bash", '{"command": "rm -rf /"}')

    send_blocked_message(call, "too dangerous")
    events = send_blocked_message(call, "too dangerous", make_ctx("guard", activity=activity))

    assert len(events) == 1
    (blocked,) = activity.events
    assert blocked.type == BLOCKED_EVENT
    assert blocked.data == {"tool": "Bash", "tool_call_id": "toolu_1", "reason": "too dangerous"}


def test_summary_fields_hold_every_field_of_the_summary() -> None:
    summary = summarize(make_record())

    fields = summary_fields(summary)

    assert set(fields) == {field.name for field in dataclasses.fields(summary)}
    assert fields["usage"] == dataclasses.asdict(summary.usage)


def test_shadow_bodies_count_against_the_memory_sink() -> None:
    shadow = ShadowResult("judge", ShadowOutcome.WOULD_CHANGE, final_request=b"12345", final_response=b"123")

    assert body_bytes(make_record(shadows=(shadow,))) == body_bytes(make_record()) + 8
