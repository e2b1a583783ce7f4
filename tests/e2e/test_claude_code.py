"""The real Claude Code CLI through Luthien: a dangerous Bash call is blocked, a harmless one runs.

The fake provider plays the model: it asks for a Bash call, then answers the tool result. Claude Code
(installed by `make test` under `.cache/npm`) runs non-interactively with `-p`.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.claude_code import (
    CLAUDE,
    agent_script,
    has_tool_result,
    run_claude,
    skip_without_claude_code,
)
from tests.support.cli_agents import (
    DANGEROUS_RISK,
    DECISION_EVENTS,
    FINAL_TEXT,
    HARMLESS_RISK,
    PRECIOUS_TEXT,
    AgentFolders,
    blocked_turn,
    judge_config,
    judge_verdict,
)
from tests.support.servers import LuthienServer

pytestmark = skip_without_claude_code


@pytest.mark.parametrize("policy", ["judge", "commands"])
def test_dangerous_bash_call_is_blocked(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    judge: FakeProvider,
    folders: AgentFolders,
    policy: str,
) -> None:
    workspace, home, precious = folders
    fake.respond_with(agent_script(f"rm -rf {precious}"))
    judge.respond_with(
        lambda request: judge_verdict(DANGEROUS_RISK, "Deletes a directory outside the workspace.")
    )
    server = make_luthien(judge_config(judge), test_policy=policy)

    output = run_claude(server.base_url, workspace, home, "Clean up the precious directory.")

    assert precious.exists()
    assert (precious / "data.txt").read_text() == PRECIOUS_TEXT
    assert "Blocked tool call" in output["result"]
    assert "Bash" in output["result"]
    assert not any(has_tool_result(request) for request in fake.requests)
    decisions = server.app.state.gateway.activity.events(type=DECISION_EVENTS[policy])
    assert decisions
    assert all(event.data["blocked"] for event in decisions)
    assert_blocked_turn_recorded(server, policy, f"rm -rf {precious}")


def assert_blocked_turn_recorded(server: LuthienServer, policy: str, command: str) -> None:
    """The blocked turn's record holds the original tool call, the verdict and the final text."""
    original, final = blocked_turn(server, policy, "Bash")
    (tool_use,) = [block for block in original["content"] if block["type"] == "tool_use"]
    assert tool_use["name"] == "Bash"
    assert tool_use["input"]["command"] == command
    assert not [block for block in final["content"] if block["type"] == "tool_use"]
    final_text = "".join(block["text"] for block in final["content"] if block["type"] == "text")
    assert "Blocked tool call" in final_text
    assert final["stop_reason"] == "end_turn"


def test_harmless_bash_call_runs(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    judge: FakeProvider,
    folders: AgentFolders,
) -> None:
    workspace, home, _ = folders
    marker = workspace / "marker.txt"
    fake.respond_with(agent_script(f"echo luthien-was-here > {marker}"))
    judge.respond_with(lambda request: judge_verdict(HARMLESS_RISK, "Writes a file in the workspace."))
    server = make_luthien(judge_config(judge))

    output = run_claude(server.base_url, workspace, home, "Leave a marker file.")

    assert marker.read_text().strip() == "luthien-was-here"
    assert output["result"] == FINAL_TEXT
    assert any(has_tool_result(request) for request in fake.requests)
    decisions = server.app.state.gateway.activity.events(type="judge.decision")
    assert [event.data["blocked"] for event in decisions] == [False]


def test_claude_code_binary_is_installed() -> None:
    assert CLAUDE.exists(), "make test installs Claude Code under .cache/npm"
    assert shutil.which(str(CLAUDE))
