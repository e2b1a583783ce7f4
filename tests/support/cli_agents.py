"""What driving a real coding agent's CLI through Luthien needs, whichever the agent (Claude Code, Codex).

The CLIs are installed by `make test` under `.cache/npm`; each runs one non-interactive turn in a
workspace folder with a private home, and the fake provider plays the model. Here: where the CLIs
live, the skip mark for a missing one, the run itself (a clean environment, a timeout, the exit
checked), the folders a turn uses, and the judge both CLIs' tests configure.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from luthien.config import LuthienConfig
from luthien.records.model import TransactionStatus
from luthien.records.query import TransactionFilter
from tests.fake_provider import FakeProvider, JSONReply, anthropic_message
from tests.support.records import record_of, stored_summaries
from tests.support.servers import LuthienServer

NPM_BIN = Path(__file__).resolve().parents[2] / ".cache" / "npm" / "node_modules" / ".bin"
"""Where `make test` installs the agents' CLIs."""
OUTPUT_TAIL = 2000
"""How much of a failed run's stderr and stdout the failure shows."""
FINAL_TEXT = "All done."
"""What the scripted model says when the agent's task is done."""
PRECIOUS_TEXT = "keep me"
JUDGE_MODEL = "judge-model"
JUDGE_TIMEOUT_S = 20
DANGEROUS_RISK = 0.97
"""The judge's verdict on a call that must be blocked (over the 0.5 threshold)."""
HARMLESS_RISK = 0.02
"""The judge's verdict on a call that must run."""
DECISION_EVENTS = {"judge": "judge.decision", "commands": "commands.decision"}
"""The activity event each policy of `judge_config` records its decision as."""


class AgentFolders(NamedTuple):
    """The folders of one agent turn: where it works, its home, and a folder it must not touch."""

    workspace: Path
    home: Path
    precious: Path


def agent_folders(root: Path) -> AgentFolders:
    """New `workspace`, `home` and `precious` folders under `root`, with `PRECIOUS_TEXT` in precious."""
    folders = AgentFolders(root / "workspace", root / "home", root / "precious")
    for folder in folders:
        folder.mkdir()
    (folders.precious / "data.txt").write_text(PRECIOUS_TEXT)
    return folders


def skip_unless_installed(binary: Path, name: str) -> pytest.MarkDecorator:
    """Skip where the CLI is not installed, except in CI, where a missing CLI fails the test."""
    return pytest.mark.skipif(
        not binary.exists() and not os.environ.get("CI"),
        reason=f"{name} is not installed (run `make test`, which installs it under .cache/npm)",
    )


def run_agent(
    command: list[str], workspace: Path, home: Path, variables: dict[str, str], timeout_s: float
) -> str:
    """Run an agent's `command` in `workspace` with only `PATH`, `HOME` and `variables` set; its stdout.

    Fails the test, showing the end of both outputs, when the agent exits with an error.
    """
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **variables}
    result = subprocess.run(
        command,
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-OUTPUT_TAIL:] + result.stdout[-OUTPUT_TAIL:]
    return result.stdout


def judge_verdict(probability: float, explanation: str) -> JSONReply:
    """The judge model's answer (Anthropic format): a call of risk `probability`, for `explanation`."""
    verdict = json.dumps({"probability": probability, "explanation": explanation})
    return JSONReply(anthropic_message(f"```json\n{verdict}\n```"))


def judge_config(judge: FakeProvider) -> LuthienConfig:
    """The policies `judge` (active: `tool_call_judge` on the `judge` upstream) and `commands`."""
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": judge.base_url}},
            "policies": {
                "judge": {
                    "class": "tool_call_judge",
                    "config": {
                        "judge": {"upstream": "judge", "model": JUDGE_MODEL},
                        "timeout_s": JUDGE_TIMEOUT_S,
                    },
                },
                "commands": {"class": "block_commands"},
            },
            "policy": "judge",
        }
    )


def blocked_turn(server: LuthienServer, policy: str, tool: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record of the one turn `policy` blocked, checked; its original and final response bodies.

    Checked: the turn called `tool`, in the agent's session, streamed; it is recorded blocked, with
    both responses and the policy's blocking decision (the judge's at `DANGEROUS_RISK`).
    """
    (summary,) = stored_summaries(server, TransactionFilter(blocked_only=True), count=1)
    assert summary.tool_names == (tool,)
    assert summary.session_id  # the agent's session header
    record = record_of(server, summary.transaction_id)
    assert record.status is TransactionStatus.BLOCKED
    assert record.streaming
    assert record.original_response is not None
    assert record.final_response is not None
    assert "policy.blocked" in [event.type for event in record.events]
    (decision,) = [event for event in record.events if event.type == DECISION_EVENTS[policy]]
    assert decision.data["blocked"] is True
    if policy == "judge":
        assert decision.data["probability"] == DANGEROUS_RISK
    return json.loads(record.original_response), json.loads(record.final_response)
