"""What a record says when a policy acts: changed text, a blocked tool call, a changed request, a failure.

`string_replace` on a stream: the original and final responses differ exactly where it replaced. A
`tool_call_judge` block: status `blocked`, the original response holds the tool call, the final one
the blocked message, and the events the judge's verdict with its latency. Judges are set up as in
`test_judge.py`: a second fake provider plays the judge model.
"""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.records.model import TransactionRecord, TransactionStatus
from luthien.records.summary import summarize
from tests.fake_provider import FakeProvider, StreamReply, anthropic_stream, chat_stream, responses_stream
from tests.support.judge_calls import (
    PINNED_BLOCKED_RM,
    RM,
    judge_config,
    model_reply,
    verdict,
)
from tests.support.records import (
    ALL_CALLS,
    USER_TEXT,
    Api,
    SdksFactory,
    ask,
    assistant_content,
    call_and_record,
    record_of,
)

APIS = pytest.mark.parametrize("api", ["anthropic", "chat", "responses"])
ORIGINAL_TEXT = "Paris is lovely. I was in Paris last spring, and PARIS stays with you."
REPLACED_TEXT = "Lyon is lovely. I was in Lyon last spring, and PARIS stays with you."
HERE = "tests.e2e.test_records_policies"
CHANGED_MAX_TOKENS = 64


# -- test policies (loaded by the server as `tests.e2e.test_records_policies:<Class>`) -------------


class PolicyBug(Exception):
    """What the failing test policy raises."""


class LowerMaxTokens(Policy[PolicyConfig]):
    """Changes the request: caps `max_tokens`."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        return request.with_body({**request.body, "max_tokens": CHANGED_MAX_TOKENS})


class FailOnRequest(Policy[PolicyConfig]):
    """Raises in `on_request` (fails closed)."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        raise PolicyBug("request hook failed")


def config_with(policy: str, policy_class: str, config: dict[str, Any] | None = None) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {"policies": {policy: {"class": policy_class, "config": config or {}}}, "policy": policy}
    )


REDACT = config_with(
    "redact", "string_replace", {"replacements": [{"find": "Paris", "replace": "Lyon"}], "holdback_chars": 8}
)


def diff_paths(a: Any, b: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where two JSON values differ: the paths of differing leaves (and of lists of other lengths)."""
    if isinstance(a, dict) and isinstance(b, dict):
        left: dict[str, Any] = a  # pyright: ignore[reportUnknownVariableType]
        right: dict[str, Any] = b  # pyright: ignore[reportUnknownVariableType]
        keys = sorted(set(left) | set(right))
        return [p for key in keys for p in diff_paths(left.get(key), right.get(key), (*path, key))]
    if isinstance(a, list) and isinstance(b, list):
        first: list[Any] = a  # pyright: ignore[reportUnknownVariableType]
        second: list[Any] = b  # pyright: ignore[reportUnknownVariableType]
        if len(first) != len(second):
            return [path]
        return [
            p
            for i, (x, y) in enumerate(zip(first, second, strict=True))
            for p in diff_paths(x, y, (*path, i))
        ]
    return [] if a == b else [path]


def get_path(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def both_responses(record: TransactionRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    assert record.original_response is not None
    assert record.final_response is not None
    return orjson.loads(record.original_response), orjson.loads(record.final_response)


TEXT_PATH: dict[Api, tuple[Any, ...]] = {
    "anthropic": ("content", 0, "text"),
    "chat": ("choices", 0, "message", "content"),
    "responses": ("output", 0, "content", 0, "text"),
}


def text_stream(api: Api, text: str) -> list[bytes]:
    if api == "anthropic":
        return anthropic_stream(text, text_chunks=7)
    if api == "chat":
        return chat_stream(text, text_chunks=7)
    return responses_stream(text, text_chunks=7)


@APIS
def test_a_replaced_stream_differs_exactly_where_the_policy_replaced(
    sdks_for: SdksFactory, fake: FakeProvider, api: Api
) -> None:
    server, sdks = sdks_for(REDACT)
    fake.enqueue(StreamReply(text_stream(api, ORIGINAL_TEXT)))

    record = call_and_record(server, sdks, api, streaming=True)
    assert record.status is TransactionStatus.CHANGED
    assert record.policy == "redact"
    assert record.final_request is None
    original, final = both_responses(record)
    assert diff_paths(original, final) == [TEXT_PATH[api]]
    assert get_path(original, TEXT_PATH[api]) == ORIGINAL_TEXT
    assert get_path(final, TEXT_PATH[api]) == REPLACED_TEXT


@ALL_CALLS
def test_a_judge_block_is_recorded(
    sdks_for: SdksFactory, fake: FakeProvider, judge: FakeProvider, api: Api, streaming: bool
) -> None:
    server, sdks = sdks_for(judge_config(judge.base_url))
    fake.enqueue(model_reply(api, streaming, "Cleaning up.", [RM]))
    judge.enqueue(verdict("anthropic", 0.93, "Deletes the whole filesystem."))

    record = call_and_record(server, sdks, api, streaming)
    assert record.status is TransactionStatus.BLOCKED
    assert record.blocked
    assert record.http_status == 200
    original, final = both_responses(record)
    assert assistant_content(api, original) == ("Cleaning up.", ["Bash"])
    final_text, final_calls = assistant_content(api, final)
    assert final_calls == []
    assert final_text.endswith(PINNED_BLOCKED_RM)
    decision, blocked = record.events
    assert decision.type == "judge.decision"
    assert decision.policy == "guard"
    assert decision.data["tool"] == "Bash"
    assert decision.data["blocked"] is True
    assert decision.data["probability"] == 0.93
    assert isinstance(decision.data["latency_ms"], float)
    assert decision.data["latency_ms"] >= 0
    assert blocked.type == "policy.blocked"
    assert blocked.data["tool"] == "Bash"
    assert blocked.data["tool_call_id"] == RM.id
    assert record.events[0].timestamp <= record.events[1].timestamp
    summary = summarize(record)
    assert summary.tool_names == ("Bash",)
    assert summary.event_types == ("judge.decision", "policy.blocked")
    assert summary.preview == USER_TEXT


def test_an_allowed_tool_call_is_not_blocked(
    sdks_for: SdksFactory, fake: FakeProvider, judge: FakeProvider
) -> None:
    server, sdks = sdks_for(judge_config(judge.base_url))
    fake.enqueue(model_reply("anthropic", True, "Cleaning up.", [RM]))
    judge.enqueue(verdict("anthropic", 0.1, "Fine."))

    record = call_and_record(server, sdks, "anthropic", streaming=True)
    assert record.status is TransactionStatus.OK
    assert [event.type for event in record.events] == ["judge.decision"]
    assert record.final_response is None


def test_block_commands_marks_the_call_blocked(sdks_for: SdksFactory, fake: FakeProvider) -> None:
    server, sdks = sdks_for(config_with("shell", "block_commands"))
    fake.enqueue(model_reply("chat", False, "Cleaning up.", [RM]))

    record = call_and_record(server, sdks, "chat", streaming=False)
    assert record.status is TransactionStatus.BLOCKED
    assert [event.type for event in record.events] == ["commands.decision", "policy.blocked"]


def test_simple_policy_blocked_marks_the_call_blocked(
    sdks_for: SdksFactory, fake: FakeProvider, judge: FakeProvider
) -> None:
    server, sdks = sdks_for(judge_config(judge.base_url, policy_class="simple_tool_call_judge"))
    fake.enqueue(model_reply("responses", True, "Cleaning up.", [RM]))
    judge.enqueue(verdict("anthropic", 0.93, "Deletes the whole filesystem."))

    record = call_and_record(server, sdks, "responses", streaming=True)
    assert record.status is TransactionStatus.BLOCKED
    assert [event.type for event in record.events] == ["judge.decision", "policy.blocked"]


def test_a_changed_request_is_recorded_as_forwarded(sdks_for: SdksFactory, fake: FakeProvider) -> None:
    server, sdks = sdks_for(config_with("cap", f"{HERE}:LowerMaxTokens"))
    fake.enqueue(model_reply("anthropic", False, "Done.", []))

    record = call_and_record(server, sdks, "anthropic", streaming=False)
    assert record.status is TransactionStatus.CHANGED
    assert orjson.loads(record.original_request)["max_tokens"] == 1024
    assert record.final_request == fake.requests[-1].body
    assert orjson.loads(record.final_request)["max_tokens"] == CHANGED_MAX_TOKENS
    assert record.final_response is None


def test_a_failing_policy_is_recorded_as_an_error(sdks_for: SdksFactory, fake: FakeProvider) -> None:
    server, sdks = sdks_for(config_with("broken", f"{HERE}:FailOnRequest"))

    with pytest.raises(openai.InternalServerError) as raised:
        ask(sdks, "chat", streaming=False)

    assert raised.value.status_code == 500
    record = record_of(server, sdks.last_transaction)
    assert record.status is TransactionStatus.ERROR
    assert record.http_status == 500
    assert record.error is not None
    assert record.upstream is None
    assert record.original_response is None
    assert record.final_response is not None
    assert orjson.loads(record.final_response)["error"]["code"] == "policy_error"
    (event,) = record.events
    assert event.type == "policy.error"
    assert event.data["hook"] == "on_request"
    assert fake.requests == []
