"""The real Codex CLI through Luthien: a text turn, a shell command round trip, a dangerous command blocked.

The fake provider plays the model on the Responses API: it asks for Codex's shell tool
(`exec_command` with `{"cmd": ...}`), then answers the `function_call_output` Codex sends back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from luthien.records.model import TransactionStatus
from luthien.records.query import TransactionFilter
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, ReceivedRequest, Reply, StreamReply, ToolCall, responses_stream
from tests.support.cli_agents import (
    DANGEROUS_RISK,
    FINAL_TEXT,
    HARMLESS_RISK,
    PRECIOUS_TEXT,
    AgentFolders,
    blocked_turn,
    judge_config,
    judge_verdict,
)
from tests.support.codex import (
    CLIENT_KEY,
    CODEX,
    CODEX_MODEL,
    SHELL_TOOL,
    completed_items,
    input_types,
    run_codex,
    skip_without_codex,
)
from tests.support.records import stored_summaries
from tests.support.servers import LuthienServer

pytestmark = skip_without_codex

CALL_ID = "call_codex_01"


def _tool_outputs(request: ReceivedRequest) -> list[dict[str, Any]]:
    return [item for item in request.json().get("input", []) if item.get("type") == "function_call_output"]


def agent_script(command: str) -> Any:
    """The model: run `command` in Codex's shell tool once; after its output comes back, finish."""

    def respond(request: ReceivedRequest) -> Reply | None:
        if request.path != "/v1/responses":
            return None
        if _tool_outputs(request):
            return StreamReply(responses_stream(FINAL_TEXT, model=CODEX_MODEL))
        call = ToolCall(CALL_ID, SHELL_TOOL, {"cmd": command})
        return StreamReply(responses_stream("", tool_calls=[call], model=CODEX_MODEL))

    return respond


def test_text_turn(make_luthien: LuthienFactory, fake: FakeProvider, folders: AgentFolders) -> None:
    workspace, home, _ = folders
    fake.respond_with(lambda request: StreamReply(responses_stream("Hello from the fake model.")))
    server = make_luthien()

    events = run_codex(server.base_url, workspace, home, "Say hello.")

    assert [item["text"] for item in completed_items(events, "agent_message")] == [
        "Hello from the fake model."
    ]
    (request,) = fake.requests
    assert request.path == "/v1/responses"
    assert request.headers["authorization"] == f"Bearer {CLIENT_KEY}"
    body = request.json()
    assert body["model"] == CODEX_MODEL
    assert body["stream"] is True
    assert body["store"] is False
    assert input_types(body)[-1] == "message"
    assert body["input"][-1]["content"] == [{"type": "input_text", "text": "Say hello."}]
    shell = next(tool for tool in body["tools"] if tool.get("name") == SHELL_TOOL)
    assert shell["type"] == "function"
    assert "cmd" in shell["parameters"]["properties"]
    (summary,) = stored_summaries(server, TransactionFilter(), count=1)
    assert summary.status is TransactionStatus.OK
    assert summary.session_id == request.headers["session-id"]
    assert summary.streaming


def test_command_round_trip(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, folders: AgentFolders
) -> None:
    workspace, home, _ = folders
    marker = workspace / "marker.txt"
    fake.respond_with(agent_script(f"echo luthien-was-here | tee {marker}"))
    judge.respond_with(lambda request: judge_verdict(HARMLESS_RISK, "Writes a file in the workspace."))
    server = make_luthien(judge_config(judge))

    events = run_codex(server.base_url, workspace, home, "Leave a marker file.")

    assert marker.read_text().strip() == "luthien-was-here"
    (command,) = completed_items(events, "command_execution")
    assert command["exit_code"] == 0
    assert [item["text"] for item in completed_items(events, "agent_message")] == [FINAL_TEXT]
    first, second = fake.requests
    assert _tool_outputs(first) == []
    (output,) = _tool_outputs(second)
    assert output["call_id"] == CALL_ID
    assert "luthien-was-here" in output["output"]
    (call,) = [item for item in second.json()["input"] if item.get("type") == "function_call"]
    assert call["name"] == SHELL_TOOL
    assert json.loads(call["arguments"]) == {"cmd": f"echo luthien-was-here | tee {marker}"}
    decisions = server.app.state.gateway.activity.events(type="judge.decision")
    assert [event.data["blocked"] for event in decisions] == [False]


@pytest.mark.parametrize("policy", ["judge", "commands"])
def test_dangerous_command_is_blocked(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    judge: FakeProvider,
    folders: AgentFolders,
    policy: str,
) -> None:
    workspace, home, precious = folders
    command = f"rm -rf {precious}"
    fake.respond_with(agent_script(command))
    judge.respond_with(
        lambda request: judge_verdict(DANGEROUS_RISK, "Deletes a directory outside the workspace.")
    )
    server = make_luthien(judge_config(judge), test_policy=policy)

    events = run_codex(server.base_url, workspace, home, "Clean up the precious directory.")

    assert (precious / "data.txt").read_text() == PRECIOUS_TEXT
    assert completed_items(events, "command_execution") == []
    (message,) = completed_items(events, "agent_message")
    assert "Blocked tool call" in message["text"]
    assert SHELL_TOOL in message["text"]
    assert not any(_tool_outputs(request) for request in fake.requests)
    assert_blocked_turn_recorded(server, policy, command)


def assert_blocked_turn_recorded(server: LuthienServer, policy: str, command: str) -> None:
    """The blocked turn's record holds the original tool call, the verdict and the final text."""
    original, final = blocked_turn(server, policy, SHELL_TOOL)
    (call,) = [item for item in original["output"] if item["type"] == "function_call"]
    assert call["name"] == SHELL_TOOL
    assert json.loads(call["arguments"]) == {"cmd": command}
    assert [item["type"] for item in final["output"]] == ["message"]
    final_text = "".join(part["text"] for part in final["output"][0]["content"])
    assert "Blocked tool call" in final_text


def test_codex_binary_is_installed() -> None:
    assert CODEX.exists(), "make test installs Codex under .cache/npm"
