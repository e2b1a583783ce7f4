"""Running the real Claude Code CLI (installed by `make test` under `.cache/npm`) against a Luthien server.

Claude Code speaks Anthropic Messages; it runs one turn non-interactively (`-p`, JSON output) with
only the Bash tool allowed. `agent_script` is the fake model of the common test: one Bash call, then
a final answer once the tool result comes back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fake_provider import ReceivedRequest, Reply, StreamReply, ToolCall, anthropic_stream
from tests.support.cli_agents import FINAL_TEXT, NPM_BIN, run_agent, skip_unless_installed

CLAUDE = NPM_BIN / "claude"
CLAUDE_TIMEOUT_S = 180
"""How long one Claude Code turn may run before the test fails (a guard: a turn takes seconds)."""
CLAUDE_KEY = "sk-ant-test-key"
CLAUDE_MODEL = "claude-sonnet-4-6"
BASH_CALL_ID = "toolu_01"

skip_without_claude_code = skip_unless_installed(CLAUDE, "Claude Code")


def run_claude(
    base_url: str,
    workspace: Path,
    home: Path,
    prompt: str,
    *,
    api_key: str = CLAUDE_KEY,
    model: str = CLAUDE_MODEL,
) -> dict[str, Any]:
    """Run one Claude Code turn through Luthien at `base_url`; its JSON result (`result` is the answer).

    Fails the test when Claude Code exits with an error.
    """
    variables = {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    command = [str(CLAUDE), "-p", prompt, "--output-format", "json", "--allowedTools", "Bash"]
    stdout = run_agent([*command, "--model", model], workspace, home, variables, CLAUDE_TIMEOUT_S)
    output: dict[str, Any] = json.loads(stdout)
    return output


def has_tool_result(request: ReceivedRequest) -> bool:
    """Whether a Messages request carries a `tool_result` block (the agent ran a tool)."""
    for message in request.json().get("messages", []):
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(block, dict) and block.get("type") == "tool_result" for block in content
        ):
            return True
    return False


def agent_script(command: str) -> Callable[[ReceivedRequest], Reply | None]:
    """The model: ask for `command` in Bash once; after the tool result, finish with `FINAL_TEXT`.

    Side requests (titles, summaries: no tools) get the fake provider's default reply.
    """

    def respond(request: ReceivedRequest) -> Reply | None:
        if request.path != "/v1/messages":
            return None
        body = request.json()
        if not body.get("tools"):
            return None
        if has_tool_result(request):
            return StreamReply(anthropic_stream(FINAL_TEXT))
        call = ToolCall(BASH_CALL_ID, "Bash", {"command": command, "description": "run the command"})
        return StreamReply(anthropic_stream("Running the command.", tool_calls=[call]))

    return respond
