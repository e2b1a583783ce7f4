r"""`block_commands`: refuses shell tool calls whose command matches a dangerous pattern. No LLM call.

Shell tools are recognised by name (`Bash`, `bash`, `shell`, `exec_command`, `shell_command`, `local_shell`
and any configured in `tool_names`); the command is read from the `command` / `cmd` argument (a list
is joined with spaces). Each rule is a regular expression searched in the command; the first match
blocks the call with the same readable message the judge uses. Text streams on untouched.

```yaml
policies:
  no_footguns:
    class: block_commands
    config:
      tool_names: [Bash, run_in_terminal]
      rules:                     # replaces the default list
        - {name: no-force-push, pattern: 'git\s+push\s+.*--force', reason: "force pushes are not allowed"}
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from luthien.call.events import BlockComplete, BlockKind, CallEvent, ToolCall
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.helpers import send_blocked_message

DEFAULT_TOOL_NAMES = ("Bash", "bash", "shell", "exec_command", "shell_command", "local_shell")
COMMAND_KEYS = ("command", "cmd")


class Rule(BaseModel):
    """A named pattern and the reason shown when it blocks."""

    model_config = ConfigDict(extra="forbid")

    name: str
    pattern: str
    reason: str

    @model_validator(mode="after")
    def _compiles(self) -> Rule:
        try:
            re.compile(self.pattern)
        except re.error as error:
            raise ValueError(f"pattern: not a valid regular expression: {error}") from error
        return self


# `rm` with a recursive flag anywhere in the same command, and a target that starts at the root, the
# home directory, a parent directory or a bare glob.
_RECURSIVE_RM = r"\brm(?=[^;&|]*\s(?:-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)(?:\s|$))"
_OUTSIDE_TARGET = r"[^;&|]*\s[\"']?(?:/|~|\$HOME\b|\$\{HOME\}|\.\.(?:/|\s|$|[\"'])|\*(?:\s|$))"

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name="recursive-delete-outside-workspace",
        pattern=_RECURSIVE_RM + _OUTSIDE_TARGET,
        reason="Recursive delete of a path outside the workspace (an absolute path, the home directory "
        "or a parent directory).",
    ),
    Rule(
        name="disk-format",
        pattern=r"\b(mkfs(\.\w+)?|wipefs|fdisk|sfdisk|parted|shred)\b|\bdd\b[^;|&]*\bof=/dev/",
        reason="Formatting, partitioning or overwriting a disk.",
    ),
    Rule(
        name="network-pipe-to-shell",
        # The same shells and download tools in each form: piped into, or given a command substitution
        # or a process substitution of a download.
        pattern=r"\b(curl|wget|fetch)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k|fi)?sh\b|"
        r"\b(ba|z|da|k|fi)?sh\s+(-c\s+)?[\"']?\$\(\s*(curl|wget|fetch)\b|"
        r"\b(ba|z|da|k|fi)?sh\s+<\(\s*(curl|wget|fetch)\b",
        reason="Downloading code from the network and running it in a shell.",
    ),
    Rule(
        name="credential-exfiltration",
        pattern=r"(\.ssh/id_|\.aws/credentials|\.netrc|\.git-credentials|\.docker/config\.json|"
        r"\.kube/config|\.npmrc|\.pypirc|/etc/shadow|\bprintenv\b|\benv\b)"
        r"[^;&]*\|\s*(curl|wget|nc|ncat|netcat|scp|ssh)\b|"
        r"\b(curl|wget)\b[^;&]*(-d|--data\S*|-F|--upload-file|-T)\s*@?[^;&]*"
        r"(\.ssh/|\.aws/|\.netrc|\.git-credentials|/etc/shadow)",
        reason="Sending credentials or secrets to another host.",
    ),
    Rule(
        name="fork-bomb",
        # Spaces are allowed wherever the shell allows them (`:(){ : | : & } ; :` is the same bomb).
        pattern=r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:",
        reason="A fork bomb.",
    ),
)


class BlockCommandsConfig(PolicyConfig):
    """Which tools are shells, and the rules (the defaults when not given)."""

    tool_names: list[str] = Field(default_factory=lambda: list(DEFAULT_TOOL_NAMES))
    rules: list[Rule] = Field(default_factory=lambda: list(DEFAULT_RULES))


def command_of(call: ToolCall) -> str | None:
    """The shell command a tool call would run, or None when it carries none.

    Arguments that are not valid JSON are searched as they are, so a cut-off call cannot hide.
    """
    arguments = call.parsed_arguments
    if arguments is None:
        return call.arguments
    for key in COMMAND_KEYS:
        value: Any = arguments.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return " ".join(str(part) for part in value)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return None


class BlockCommandsPolicy(Policy[BlockCommandsConfig]):
    """Blocks shell tool calls matching a rule."""

    config_model = BlockCommandsConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TOOL_CALL})

    def __init__(self, config: BlockCommandsConfig, name: str = "") -> None:
        super().__init__(config, name)
        self._shells = frozenset(config.tool_names)
        self._rules = [(re.compile(rule.pattern), rule) for rule in config.rules]

    def matching_rule(self, call: ToolCall) -> Rule | None:
        """The first rule the call's command matches, if it is a shell call."""
        if call.name not in self._shells:
            return None
        command = command_of(call)
        if command is None:
            return None
        return next((rule for pattern, rule in self._rules if pattern.search(command)), None)

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Pass the call, or replace it by the blocked message."""
        call = event.block.tool_call
        if call is None:
            return [event]
        rule = self.matching_rule(call)
        ctx.record(
            "commands.decision",
            tool=call.name,
            tool_call_id=call.id,
            command=command_of(call),
            rule=rule.name if rule else None,
            blocked=rule is not None,
        )
        if rule is None:
            return [event]
        return send_blocked_message(call, f"{rule.reason} (rule `{rule.name}`)", ctx)
