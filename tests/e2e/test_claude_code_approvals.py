"""The real Claude Code CLI through Luthien with `human_approval`: a person decides each Bash call.

The fake provider plays the model (it asks for one Bash call, then finishes after the tool result).
Claude Code runs in a thread; the test waits for the call to be pending and decides it through the
admin API: approved, the command runs; denied, Claude Code shows the reason; undecided, it is denied
when `timeout_s` passes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.approvals import approval_config, decide, pending, wait_pending
from tests.support.claude_code import CLAUDE_TIMEOUT_S, agent_script, run_claude, skip_without_claude_code
from tests.support.cli_agents import FINAL_TEXT, AgentFolders

pytestmark = skip_without_claude_code


def test_an_approved_bash_call_runs(
    make_luthien: LuthienFactory, fake: FakeProvider, folders: AgentFolders
) -> None:
    workspace, home, _ = folders
    fake.respond_with(agent_script("touch approved.txt"))
    server = make_luthien(approval_config())

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(run_claude, server.base_url, workspace, home, "Create approved.txt.")
        (item,) = wait_pending(server.base_url, headers={})
        assert not (workspace / "approved.txt").exists()  # held: not run yet
        assert decide(server.base_url, item["id"], "approve", headers={}).status_code == 200
        output = future.result(CLAUDE_TIMEOUT_S)

    assert item["tool_call"]["name"] == "Bash"
    assert "touch approved.txt" in item["tool_call"]["arguments"]
    assert item["session_id"]  # Claude Code's session header
    assert (workspace / "approved.txt").exists()
    assert output["result"] == FINAL_TEXT


def test_a_denied_bash_call_shows_the_reason(
    make_luthien: LuthienFactory, fake: FakeProvider, folders: AgentFolders
) -> None:
    workspace, home, _ = folders
    fake.respond_with(agent_script("touch denied.txt"))
    server = make_luthien(approval_config())

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(run_claude, server.base_url, workspace, home, "Create denied.txt.")
        (item,) = wait_pending(server.base_url, headers={})
        reason = "Files in this workspace are frozen until Friday."
        assert decide(server.base_url, item["id"], "deny", reason, headers={}).status_code == 200
        output = future.result(CLAUDE_TIMEOUT_S)

    assert not (workspace / "denied.txt").exists()
    assert reason in output["result"]
    assert "Blocked tool call" in output["result"]


def test_an_undecided_bash_call_is_denied_at_the_timeout(
    make_luthien: LuthienFactory, fake: FakeProvider, folders: AgentFolders
) -> None:
    workspace, home, _ = folders
    fake.respond_with(agent_script("touch late.txt"))
    server = make_luthien(approval_config(timeout_s=0.5))

    output = run_claude(server.base_url, workspace, home, "Create late.txt.")

    assert not (workspace / "late.txt").exists()
    assert "Not approved" in output["result"]
    assert pending(server.base_url, {}) == []
    (decided,) = server.app.state.gateway.activity.events(type="approval.decided")
    assert (decided.data["decision"], decided.data["by"]) == ("deny", "timeout")
