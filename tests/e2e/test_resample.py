"""`tool_call_judge` with `resample: N` through a real Luthien server and the fake provider.

The agent's model first asks for `rm -rf /`; asked again (the same request, not streaming), it
answers with what each test scripts. The first candidate the judge passes is sent in place of the
blocked call; when none passes, the call is blocked as without resampling. Every candidate is
recorded as a `judge.resample` activity event.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from luthien.config import ConfigError
from luthien.policy.registry import build_policies
from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    ReceivedRequest,
    Reply,
    ToolCall,
    anthropic_error_body,
)
from tests.support.control_models import (
    DANGER,
    LS,
    READ,
    RM,
    UNTRUSTED_TEXT,
    Models,
    resample_config,
    untrusted_requests,
)
from tests.support.judge_calls import (
    ALL_CLIENTS,
    BLOCKED_HEADLINE,
    CLIENT_TIMEOUT_S,
    END_STOP,
    PATHS,
    TOOL_STOP,
    Api,
    assert_call,
    call_luthien,
    decisions,
    request_for,
)
from tests.support.records import record_of


def resamples(server: Any) -> list[dict[str, Any]]:
    return decisions(server, "judge.resample")


@ALL_CLIENTS
def test_a_blocked_call_is_replaced_by_a_safe_resample(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, stream: bool
) -> None:
    fake.respond_with(Models(untrusted=[[RM], [LS]]))
    server = make_luthien(resample_config(2))

    outcome = call_luthien(server, api, stream)

    assert outcome.text == UNTRUSTED_TEXT
    (call,) = outcome.calls
    assert_call(call, LS)
    assert outcome.stop == TOOL_STOP[api]
    original, again = untrusted_requests(fake.requests)
    assert again["stream"] is False
    assert {**again, "stream": original["stream"]} == original
    (resampled,) = resamples(server)
    assert resampled["attempt"] == 1
    assert resampled["tool_call_id"] == RM.id
    assert resampled["candidate"]["tool_call_id"] == LS.id
    assert resampled["probability"] == 0.05
    assert resampled["sent"] is True
    assert resampled["error"] is None
    assert decisions(server, "policy.blocked") == []


RM_HOME = ToolCall("toolu_01RmRfHome", "Bash", {"command": "rm -rf ~", "description": "wipe home"})


@pytest.mark.parametrize("api", ["anthropic", "chat", "responses"])
def test_when_every_resample_is_dangerous_the_call_is_blocked(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    models = Models(untrusted=[[RM], [RM_HOME], [RM]])
    fake.respond_with(models)
    server = make_luthien(resample_config(2))

    outcome = call_luthien(server, api, True)

    assert outcome.calls == []
    assert BLOCKED_HEADLINE in outcome.text
    assert outcome.stop == END_STOP[api]
    assert len(untrusted_requests(fake.requests)) == 3
    events = [
        (event["attempt"], event["sent"], event["probability"], event["error"]) for event in resamples(server)
    ]
    # The second resample repeats the blocked call: blocked without asking the judge again.
    assert events == [(1, False, 0.95, None), (2, False, None, "same_as_blocked")]
    assert models.served.count("judge") == 2
    (blocked,) = decisions(server, "policy.blocked")
    assert blocked["tool_call_id"] == RM.id


def test_the_candidate_is_the_call_at_the_blocked_calls_position(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    # READ passes; RM (second) is blocked; the resample's second call (LS) replaces it.
    fake.respond_with(Models(untrusted=[[READ, RM], [READ, LS]]))
    server = make_luthien(resample_config(1))

    outcome = call_luthien(server, "anthropic", True)

    assert [call.id for call in outcome.calls] == [READ.id, LS.id]
    (resampled,) = resamples(server)
    assert resampled["candidate"]["tool_call_id"] == LS.id


def test_a_resample_without_a_tool_call_is_skipped(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    fake.respond_with(Models(untrusted=[[RM], [], [LS]]))
    server = make_luthien(resample_config(3))

    outcome = call_luthien(server, "chat", False)

    assert [call.id for call in outcome.calls] == [LS.id]
    assert [(event["attempt"], event["error"], event["sent"]) for event in resamples(server)] == [
        (1, "no_tool_call", False),
        (2, None, True),
    ]


class FailingResamples(Models):
    """The agent's model answers the client, then fails every resample with `failure`."""

    def __init__(self, failure: Reply) -> None:
        super().__init__()
        self.failure = failure

    def __call__(self, request: ReceivedRequest) -> Reply | None:
        body = request.json()
        if body.get("model") == "claude-sonnet-4-6" and body.get("stream") is False:
            return self.failure
        return super().__call__(request)


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (JSONReply(anthropic_error_body("api_error", "down"), status=500), "call_failed"),
        (HangReply(), "timeout"),
    ],
    ids=["http_500", "timeout"],
)
def test_a_failing_resample_blocks_the_call(
    make_luthien: LuthienFactory, fake: FakeProvider, failure: Reply, error: str
) -> None:
    fake.respond_with(FailingResamples(failure))
    server = make_luthien(resample_config(3, resample_timeout_s=0.2))

    outcome = call_luthien(server, "anthropic", True)

    assert outcome.calls == []
    assert BLOCKED_HEADLINE in outcome.text
    (resampled,) = resamples(server)
    assert (resampled["error"], resampled["sent"], resampled["candidate"]) == (error, False, None)


def test_a_judge_failing_on_a_candidate_ends_the_resampling(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    models = Models(untrusted=[[RM], [LS]])
    judged: list[str] = []

    def judge_then_fail(request: ReceivedRequest) -> Reply | None:
        if request.json().get("model") == "judge-model":
            judged.append("judge")
            if len(judged) > 1:
                return JSONReply(anthropic_error_body("api_error", "down"), status=500)
        return models(request)

    fake.respond_with(judge_then_fail)
    server = make_luthien(resample_config(3))

    outcome = call_luthien(server, "anthropic", False)

    assert outcome.calls == []
    assert DANGER in outcome.text  # the blocked message shows the original call's arguments
    (resampled,) = resamples(server)
    assert (resampled["error"], resampled["sent"], resampled["probability"]) == ("call_failed", False, 1.0)
    assert len(untrusted_requests(fake.requests)) == 2


def test_without_resample_the_model_is_asked_once(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    fake.respond_with(Models(untrusted=[[RM], [LS]]))
    server = make_luthien(resample_config(0))

    outcome = call_luthien(server, "responses", True)

    assert outcome.calls == []
    assert len(untrusted_requests(fake.requests)) == 1
    assert resamples(server) == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"resample": -1}, "policies.guard.config.resample"),
        ({"resample": 11}, "policies.guard.config.resample"),
        ({"resample": 1, "resample_timeout_s": 0}, "policies.guard.config.resample_timeout_s"),
    ],
)
def test_invalid_resample_settings_name_the_field(options: dict[str, Any], field: str) -> None:
    resample = options.pop("resample")
    with pytest.raises(ConfigError) as raised:
        build_policies(resample_config(resample, **options), "guard")

    assert raised.value.field == field


@pytest.mark.parametrize("second", ["safe", "dangerous"])
def test_the_record_says_what_resampling_did(
    make_luthien: LuthienFactory, fake: FakeProvider, second: str
) -> None:
    fake.respond_with(Models(untrusted=[[RM], [LS if second == "safe" else RM]]))
    server = make_luthien(resample_config(1))
    body, headers = request_for("anthropic", True, (("user", "Please tidy up the repository."),))

    response = httpx.post(
        server.base_url + PATHS["anthropic"], json=body, headers=headers, timeout=CLIENT_TIMEOUT_S
    )
    record = record_of(server, response.headers["x-luthien-transaction-id"])

    assert record.status is (TransactionStatus.CHANGED if second == "safe" else TransactionStatus.BLOCKED)
    assert [event.data["sent"] for event in record.events if event.type == "judge.resample"] == [
        second == "safe"
    ]


def test_a_resample_carries_the_clients_beta_header(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    fake.respond_with(Models(untrusted=[[RM], [LS]]))
    server = make_luthien(resample_config(1))
    body, headers = request_for("anthropic", False, (("user", "Please tidy up the repository."),))

    httpx.post(
        server.base_url + PATHS["anthropic"],
        json=body,
        headers={**headers, "anthropic-beta": "context-management-2025-06-27"},
        timeout=CLIENT_TIMEOUT_S,
    )

    original, again = [r for r in fake.requests if r.json()["model"] == "claude-sonnet-4-6"]
    assert again.headers["anthropic-beta"] == original.headers["anthropic-beta"]
