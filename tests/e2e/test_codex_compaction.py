"""Codex's compaction requests pass through Luthien with a response-inspecting policy active (issue #14).

Codex CLI 0.171 compacts on the server only: an ordinary streaming `POST /v1/responses` whose input
ends in `{"type": "compaction_trigger"}`, answered by a response holding one `compaction` item, which
Codex copies verbatim into its next request. (It never calls `/v1/responses/compact`; older Codex
versions did, with the same history, so that endpoint is replayed with the recorded history too.)
The bodies under `data/codex_*_request.json` were recorded from the real CLI; the last test drives
the real CLI through a compaction.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from luthien.records.model import TransactionStatus
from luthien.records.query import TransactionFilter
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    ReceivedRequest,
    Reply,
    StreamReply,
    ToolCall,
    compaction_item,
    compaction_stream,
    is_compaction_request,
    responses_stream,
)
from tests.support.cli_agents import FINAL_TEXT, HARMLESS_RISK, AgentFolders, judge_config, judge_verdict
from tests.support.codec_streams import sse_data
from tests.support.codex import (
    AFTER_COMPACTION_REQUEST,
    CLIENT_KEY,
    CODEX_MODEL,
    OPENAI_PROVIDER_NAME,
    SHELL_TOOL,
    TRIGGER_REQUEST,
    completed_items,
    input_types,
    recorded,
    run_codex,
    skip_without_codex,
)
from tests.support.records import record_of, stored_summaries
from tests.support.servers import LuthienServer

POLICIES = ["judge", "commands"]
HTTP_TIMEOUT_S = 30.0
CALL_ID = "call_codex_01"
CONTEXT_WINDOW = 20_000
AUTO_COMPACT_LIMIT = 2_000
OVER_THE_LIMIT = {"input_tokens": 50_000, "total_tokens": 50_012}
"""The usage the fake model reports: far past `AUTO_COMPACT_LIMIT`, so Codex compacts after a turn."""


def approve(request: ReceivedRequest) -> JSONReply:
    return judge_verdict(HARMLESS_RISK, "Writes a file in the workspace.")


def post_recorded(base_url: str, request: dict[str, Any]) -> httpx.Response:
    headers = {**request["headers"], "authorization": f"Bearer {CLIENT_KEY}"}
    return httpx.post(
        f"{base_url}{request['path']}", json=request["body"], headers=headers, timeout=HTTP_TIMEOUT_S
    )


@pytest.mark.parametrize("policy", POLICIES)
def test_recorded_compaction_trigger_request_passes(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, policy: str
) -> None:
    request = recorded(TRIGGER_REQUEST)
    assert input_types(request["body"])[-1] == "compaction_trigger"
    server = make_luthien(judge_config(judge), test_policy=policy)

    response = post_recorded(server.base_url, request)

    assert response.status_code == 200
    events = sse_data(response.text)
    completed = events[-1]
    assert completed["type"] == "response.completed"
    (item,) = completed["response"]["output"]
    assert item["type"] == "compaction"
    assert item["encrypted_content"]
    done = [event["item"] for event in events if event["type"] == "response.output_item.done"]
    assert done == [item]
    (forwarded,) = fake.requests
    assert forwarded.path == "/v1/responses"
    assert forwarded.json() == request["body"]  # the trigger and Codex's extra item fields survive
    assert forwarded.headers["session-id"] == request["headers"]["session-id"]
    assert judge.requests == []  # a compaction has no tool call to judge
    (summary,) = stored_summaries(server, TransactionFilter(), count=1)
    assert summary.status is TransactionStatus.OK
    assert summary.policy == policy
    record = record_of(server, summary.transaction_id)
    assert record.original_response is not None
    assert record.final_response is None  # the client received what the upstream sent
    assert json.loads(record.original_response)["output"] == [item]


@pytest.mark.parametrize("policy", POLICIES)
def test_recorded_request_after_compaction_passes(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, policy: str
) -> None:
    request = recorded(AFTER_COMPACTION_REQUEST)
    (compaction,) = [item for item in request["body"]["input"] if item["type"] == "compaction"]
    fake.enqueue(StreamReply(responses_stream(FINAL_TEXT, model=CODEX_MODEL)))
    server = make_luthien(judge_config(judge), test_policy=policy)

    response = post_recorded(server.base_url, request)

    assert response.status_code == 200
    completed = sse_data(response.text)[-1]
    assert completed["type"] == "response.completed"
    assert completed["response"]["output"][0]["content"][0]["text"] == FINAL_TEXT
    (forwarded,) = fake.requests
    assert forwarded.json() == request["body"]
    assert compaction in forwarded.json()["input"]  # the opaque summary reaches the model as sent


@pytest.mark.parametrize("policy", POLICIES)
def test_compact_endpoint_with_the_recorded_history_passes(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, policy: str
) -> None:
    recorded_body = recorded(TRIGGER_REQUEST)["body"]
    # What Codex's `/responses/compact` call carried: the history without the trigger, and the tools.
    body = {
        "model": recorded_body["model"],
        "input": recorded_body["input"][:-1],
        "tools": recorded_body["tools"],
        "parallel_tool_calls": recorded_body["parallel_tool_calls"],
        "reasoning": recorded_body["reasoning"],
    }
    server = make_luthien(judge_config(judge), test_policy=policy)

    response = httpx.post(
        f"{server.base_url}/v1/responses/compact",
        json=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=HTTP_TIMEOUT_S,
    )

    assert response.status_code == 200
    assert response.json()["object"] == "response.compaction"
    assert response.json()["output"][-1]["type"] == "compaction"
    (forwarded,) = fake.requests
    assert forwarded.path == "/v1/responses/compact"
    assert forwarded.json() == body
    assert judge.requests == []


def test_fake_provider_answers_a_compaction_trigger_without_streaming(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    history: list[Any] = ["not an item", {"type": "compaction_trigger"}]

    response = httpx.post(
        f"{luthien.base_url}/v1/responses",
        json={"model": CODEX_MODEL, "input": history, "store": False},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=HTTP_TIMEOUT_S,
    )

    assert response.status_code == 200
    assert [item["type"] for item in response.json()["output"]] == ["compaction"]
    assert not is_compaction_request({"input": history[:1]})
    assert not is_compaction_request({"input": "Hi"})


def compacting_agent(command: str, compaction: dict[str, Any]) -> Any:
    """The model: run `command` once, reporting a usage past the limit; compact; then finish."""

    def respond(request: ReceivedRequest) -> Reply | None:
        body = request.json()
        if is_compaction_request(body):
            return StreamReply(compaction_stream(model=CODEX_MODEL, item=compaction))
        if {"function_call_output", "compaction"} & set(input_types(body)):
            return StreamReply(responses_stream(FINAL_TEXT, model=CODEX_MODEL, usage=OVER_THE_LIMIT))
        call = ToolCall(CALL_ID, SHELL_TOOL, {"cmd": command})
        return StreamReply(responses_stream("", tool_calls=[call], model=CODEX_MODEL, usage=OVER_THE_LIMIT))

    return respond


@skip_without_codex
@pytest.mark.parametrize("policy", POLICIES)
def test_real_codex_compacts_through_luthien(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, folders: AgentFolders, policy: str
) -> None:
    workspace, home, _ = folders
    marker = workspace / "marker.txt"
    compaction = compaction_item()
    fake.respond_with(compacting_agent(f"echo luthien-was-here | tee {marker}", compaction))
    judge.respond_with(approve)
    server = make_luthien(judge_config(judge), test_policy=policy)

    events = run_codex(
        server.base_url,
        workspace,
        home,
        "Leave a marker file.",
        provider_name=OPENAI_PROVIDER_NAME,
        config=(
            f"model_context_window={CONTEXT_WINDOW}",
            f"model_auto_compact_token_limit={AUTO_COMPACT_LIMIT}",
        ),
    )

    assert marker.read_text().strip() == "luthien-was-here"
    assert [item["text"] for item in completed_items(events, "agent_message")] == [FINAL_TEXT]
    turn, trigger, after = (request.json() for request in fake.requests)
    assert "function_call_output" not in input_types(turn)
    assert input_types(trigger)[-3:] == ["function_call", "function_call_output", "compaction_trigger"]
    assert input_types(after)[-1] == "compaction"
    assert after["input"][-1] == compaction  # Codex sent back, verbatim, what came through Luthien
    assert len(judge.requests) == (1 if policy == "judge" else 0)  # the command, not the compaction
    summaries = stored_summaries(server, TransactionFilter(), count=3)
    assert {summary.status for summary in summaries} == {TransactionStatus.OK}
    assert {summary.policy for summary in summaries} == {policy}
