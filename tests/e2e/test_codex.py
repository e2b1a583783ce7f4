"""The real Codex CLI through Luthien: a text turn, a shell command round trip, a dangerous command blocked.

The fake provider plays the model on the Responses API: it asks for Codex's shell tool
(`exec_command` with `{"cmd": ...}`), then answers the `function_call_output` Codex sends back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from luthien.config import LuthienConfig
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
    anthropic_message,
    responses_stream,
)
from tests.support.codex import (
    CLIENT_KEY,
    CODEX,
    CODEX_MODEL,
    completed_items,
    input_types,
    run_codex,
    skip_without_codex,
)
from tests.support.records import record_of, stored_summaries
from tests.support.servers import LuthienServer

pytestmark = skip_without_codex

FINAL_TEXT = "All done."
CALL_ID = "call_codex_01"
SHELL_TOOL = "exec_command"


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


@pytest.fixture
def judge() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


def judge_verdict(probability: float, explanation: str) -> JSONReply:
    verdict = json.dumps({"probability": probability, "explanation": explanation})
    return JSONReply(anthropic_message(f"```json\n{verdict}\n```"))


def judge_config(judge: FakeProvider) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": judge.base_url}},
            "policies": {
                "judge": {
                    "class": "tool_call_judge",
                    "config": {"judge": {"upstream": "judge", "model": "judge-model"}, "timeout_s": 20},
                },
                "commands": {"class": "block_commands"},
            },
            "policy": "judge",
        }
    )


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    workspace = tmp_path / "workspace"
    home = tmp_path / "home"
    precious = tmp_path / "precious"
    for folder in (workspace, home, precious):
        folder.mkdir()
    (precious / "data.txt").write_text("keep me")
    return workspace, home, precious


def test_text_turn(make_luthien: LuthienFactory, fake: FakeProvider, dirs: tuple[Path, Path, Path]) -> None:
    workspace, home, _ = dirs
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
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, dirs: tuple[Path, Path, Path]
) -> None:
    workspace, home, _ = dirs
    marker = workspace / "marker.txt"
    fake.respond_with(agent_script(f"echo luthien-was-here | tee {marker}"))
    judge.respond_with(lambda request: judge_verdict(0.02, "Writes a file in the workspace."))
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
    dirs: tuple[Path, Path, Path],
    policy: str,
) -> None:
    workspace, home, precious = dirs
    command = f"rm -rf {precious}"
    fake.respond_with(agent_script(command))
    judge.respond_with(lambda request: judge_verdict(0.97, "Deletes a directory outside the workspace."))
    server = make_luthien(judge_config(judge), test_policy=policy)

    events = run_codex(server.base_url, workspace, home, "Clean up the precious directory.")

    assert (precious / "data.txt").read_text() == "keep me"
    assert completed_items(events, "command_execution") == []
    (message,) = completed_items(events, "agent_message")
    assert "Blocked tool call" in message["text"]
    assert SHELL_TOOL in message["text"]
    assert not any(_tool_outputs(request) for request in fake.requests)
    assert_blocked_turn_recorded(server, policy, command)


def assert_blocked_turn_recorded(server: LuthienServer, policy: str, command: str) -> None:
    """The blocked turn's record holds the original tool call, the verdict and the final text."""
    (summary,) = stored_summaries(server, TransactionFilter(blocked_only=True), count=1)
    assert summary.tool_names == (SHELL_TOOL,)
    assert summary.session_id  # Codex's session-id header
    record = record_of(server, summary.transaction_id)
    assert record.status is TransactionStatus.BLOCKED
    assert record.streaming
    assert record.original_response is not None
    assert record.final_response is not None
    original = json.loads(record.original_response)
    (call,) = [item for item in original["output"] if item["type"] == "function_call"]
    assert call["name"] == SHELL_TOOL
    assert json.loads(call["arguments"]) == {"cmd": command}
    final = json.loads(record.final_response)
    assert [item["type"] for item in final["output"]] == ["message"]
    final_text = "".join(part["text"] for part in final["output"][0]["content"])
    assert "Blocked tool call" in final_text
    assert "policy.blocked" in [event.type for event in record.events]
    if policy == "judge":
        (verdict,) = [event for event in record.events if event.type == "judge.decision"]
        assert verdict.data["blocked"] is True
        assert verdict.data["probability"] == 0.97
    else:
        (decision,) = [event for event in record.events if event.type == "commands.decision"]
        assert decision.data["blocked"] is True


def test_codex_binary_is_installed() -> None:
    assert CODEX.exists(), "make test installs Codex under .cache/npm"
