"""Running the real Codex CLI (installed by `make test` under `.cache/npm`) against a Luthien server.

Codex speaks only the Responses API. It is pointed at Luthien with a custom model provider given on
the command line (no config file), in a private `CODEX_HOME`, and runs one non-interactive turn with
`codex exec --json`, whose stdout is one JSON event per line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from tests.support.cli_agents import NPM_BIN, run_agent, skip_unless_installed

CODEX = NPM_BIN / "codex"
CODEX_TIMEOUT_S = 100
"""Under the per-test timeout (pyproject), so a stuck Codex fails with its own output."""
CODEX_MODEL = "gpt-5"
KEY_VARIABLE = "LUTHIEN_TEST_KEY"
"""The environment variable Codex reads the API key from (`model_providers.<id>.env_key`)."""
CLIENT_KEY = "sk-codex-test-key"
OPENAI_PROVIDER_NAME = "OpenAI"
"""Codex compacts on the server (a `compaction_trigger` request) only for a provider of this name;
under any other name it compacts locally, with an ordinary summarising request."""
SHELL_TOOL = "exec_command"
"""Codex's shell tool (arguments `{"cmd": ...}`)."""

RECORDED = Path(__file__).resolve().parents[1] / "e2e" / "data"
"""Requests recorded from the real CLI (0.171)."""
TRIGGER_REQUEST = RECORDED / "codex_compaction_trigger_request.json"
"""Codex's compaction request: the history, then a `compaction_trigger` item."""
AFTER_COMPACTION_REQUEST = RECORDED / "codex_after_compaction_request.json"
"""Codex's next request: the `compaction` item it received, copied verbatim."""

skip_without_codex = skip_unless_installed(CODEX, "Codex")


def recorded(path: Path) -> dict[str, Any]:
    """A request recorded from the real CLI: `method`, `path`, `headers` (no credentials), `body`."""
    request: dict[str, Any] = orjson.loads(path.read_bytes())
    return request


def codex_command(
    base_url: str, prompt: str, *, provider_name: str = "luthien", config: tuple[str, ...] = ()
) -> list[str]:
    """The `codex exec` command line of one turn through Luthien at `base_url`.

    Args:
        base_url: Luthien's URL, without `/v1`.
        prompt: The user's prompt.
        provider_name: The provider's display name (`OPENAI_PROVIDER_NAME` turns on server-side compaction).
        config: More `-c key=value` overrides.
    """
    overrides = [
        "model_provider=luthien",
        f"model_providers.luthien.name={provider_name}",
        f"model_providers.luthien.base_url={base_url}/v1",
        f"model_providers.luthien.env_key={KEY_VARIABLE}",
        "model_providers.luthien.wire_api=responses",
        "check_for_update_on_startup=false",
        *config,
    ]
    command = [str(CODEX), "exec", "--skip-git-repo-check", "--json", "-m", CODEX_MODEL]
    # Luthien is the guard under test: Codex's own sandbox stays off, so a command it runs really runs.
    command.append("--dangerously-bypass-approvals-and-sandbox")
    for override in overrides:
        command += ["-c", override]
    return [*command, prompt]


def run_codex(
    base_url: str, workspace: Path, home: Path, prompt: str, **options: Any
) -> list[dict[str, Any]]:
    """Run one Codex turn in `workspace` with `CODEX_HOME=home`; its JSON events, in order.

    `options` are those of `codex_command`. Fails the test when Codex exits with an error.
    """
    variables = {"CODEX_HOME": str(home), KEY_VARIABLE: CLIENT_KEY}
    stdout = run_agent(
        codex_command(base_url, prompt, **options), workspace, home, variables, CODEX_TIMEOUT_S
    )
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def completed_items(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    """The items of one type (`agent_message`, `command_execution`, ...) Codex reported completed."""
    return [
        event["item"]
        for event in events
        if event.get("type") == "item.completed" and event["item"].get("type") == item_type
    ]


def input_types(body: dict[str, Any]) -> list[str]:
    """The `type` of each input item of a Responses request body."""
    return [str(item.get("type")) for item in body.get("input", [])]
