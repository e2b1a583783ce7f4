"""The real Claude Code CLI through Luthien: a dangerous Bash call is blocked, a harmless one runs.

The fake provider plays the model: it asks for a Bash call, then answers the tool result. Claude Code
(installed by `make test` under `.cache/npm`) runs non-interactively with `-p`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
    anthropic_stream,
)
from tests.support.records import record_of, stored_summaries
from tests.support.servers import LuthienServer

CLAUDE = Path(__file__).resolve().parents[2] / ".cache" / "npm" / "node_modules" / ".bin" / "claude"
CLAUDE_TIMEOUT_S = 180
FINAL_TEXT = "All done."

pytestmark = pytest.mark.skipif(
    not CLAUDE.exists() and not os.environ.get("CI"),
    reason="Claude Code is not installed (run `make test`, which installs it under .cache/npm)",
)


def _has_tool_result(request: ReceivedRequest) -> bool:
    for message in request.json().get("messages", []):
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(block, dict) and block.get("type") == "tool_result" for block in content
        ):
            return True
    return False


def agent_script(command: str) -> Any:
    """The model: ask for `command` in Bash once; after the tool result, finish."""

    def respond(request: ReceivedRequest) -> Reply | None:
        if request.path != "/v1/messages":
            return None
        body = request.json()
        if not body.get("tools"):
            return None  # side requests (titles, summaries): default reply
        if _has_tool_result(request):
            return StreamReply(anthropic_stream(FINAL_TEXT))
        call = ToolCall("toolu_01", "Bash", {"command": command, "description": "run the command"})
        return StreamReply(anthropic_stream("Running the command.", tool_calls=[call]))

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


def run_claude(base_url: str, workspace: Path, home: Path, prompt: str) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    result = subprocess.run(
        [
            str(CLAUDE),
            "-p",
            prompt,
            "--output-format",
            "json",
            "--allowedTools",
            "Bash",
            "--model",
            "claude-sonnet-4-6",
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLAUDE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output: dict[str, Any] = json.loads(result.stdout)
    return output


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


@pytest.mark.parametrize("policy", ["judge", "commands"])
def test_dangerous_bash_call_is_blocked(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    judge: FakeProvider,
    dirs: tuple[Path, Path, Path],
    policy: str,
) -> None:
    workspace, home, precious = dirs
    fake.respond_with(agent_script(f"rm -rf {precious}"))
    judge.respond_with(lambda request: judge_verdict(0.97, "Deletes a directory outside the workspace."))
    server = make_luthien(judge_config(judge), test_policy=policy)

    output = run_claude(server.base_url, workspace, home, "Clean up the precious directory.")

    assert precious.exists()
    assert (precious / "data.txt").read_text() == "keep me"
    assert "Blocked tool call" in output["result"]
    assert "Bash" in output["result"]
    assert not any(_has_tool_result(request) for request in fake.requests)
    decisions = server.app.state.gateway.activity.events(
        type="judge.decision" if policy == "judge" else "commands.decision"
    )
    assert decisions
    assert all(event.data["blocked"] for event in decisions)
    assert_blocked_turn_recorded(server, policy, f"rm -rf {precious}")


def assert_blocked_turn_recorded(server: LuthienServer, policy: str, command: str) -> None:
    """The blocked turn's record holds the original tool call, the verdict and the final text."""
    (summary,) = stored_summaries(server, TransactionFilter(blocked_only=True), count=1)
    assert summary.tool_names == ("Bash",)
    assert summary.session_id  # Claude Code's X-Claude-Code-Session-Id
    record = record_of(server, summary.transaction_id)
    assert record.status is TransactionStatus.BLOCKED
    assert record.streaming
    assert record.original_response is not None
    assert record.final_response is not None
    original = json.loads(record.original_response)
    (tool_use,) = [block for block in original["content"] if block["type"] == "tool_use"]
    assert tool_use["name"] == "Bash"
    assert tool_use["input"]["command"] == command
    final = json.loads(record.final_response)
    assert not [block for block in final["content"] if block["type"] == "tool_use"]
    final_text = "".join(block["text"] for block in final["content"] if block["type"] == "text")
    assert "Blocked tool call" in final_text
    assert final["stop_reason"] == "end_turn"
    event_types = [event.type for event in record.events]
    assert "policy.blocked" in event_types
    if policy == "judge":
        (verdict,) = [event for event in record.events if event.type == "judge.decision"]
        assert verdict.data["blocked"] is True
        assert verdict.data["probability"] == 0.97


def test_harmless_bash_call_runs(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    judge: FakeProvider,
    dirs: tuple[Path, Path, Path],
) -> None:
    workspace, home, _ = dirs
    marker = workspace / "marker.txt"
    fake.respond_with(agent_script(f"echo luthien-was-here > {marker}"))
    judge.respond_with(lambda request: judge_verdict(0.02, "Writes a file in the workspace."))
    server = make_luthien(judge_config(judge))

    output = run_claude(server.base_url, workspace, home, "Leave a marker file.")

    assert marker.read_text().strip() == "luthien-was-here"
    assert output["result"] == FINAL_TEXT
    assert any(_has_tool_result(request) for request in fake.requests)
    decisions = server.app.state.gateway.activity.events(type="judge.decision")
    assert [event.data["blocked"] for event in decisions] == [False]


def test_claude_code_binary_is_installed() -> None:
    assert CLAUDE.exists(), "make test installs Claude Code under .cache/npm"
    assert shutil.which(str(CLAUDE))
