"""`drop_thinking`: removes thinking (reasoning) blocks from responses, and records each one dropped.

Thinking cannot be rewritten: an Anthropic thinking block is signed, and a changed text breaks the
signature the API checks when the block is sent back; Responses reasoning may be encrypted. So a
policy that must keep something out of the client's view (a secret the model read and repeats while
thinking) can only let the block through or drop it whole. This policy drops it: every thinking
block, or only those matching a pattern or carrying a secret. Each drop is a `thinking.dropped`
activity event (block index, characters, why). Thinking blocks are held (not streamed) while it
decides. See docs/policies.md ("Thinking blocks") for what dropping costs a client.

```yaml
policies:
  no_leaky_thinking:
    class: drop_thinking
    config:
      only_if_secret: true          # drop only thinking that carries a credential
      only_if_matching: ['Project Falcon']
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field, field_validator

from luthien.call.events import BlockComplete, BlockKind, CallEvent
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.secrets import find_secrets

DROPPED_EVENT = "thinking.dropped"


class DropThinkingConfig(PolicyConfig):
    """Which thinking blocks to drop: all of them unless a condition is given."""

    only_if_secret: bool = Field(default=False, description="Drop only thinking that carries a credential.")
    only_if_matching: list[str] = Field(
        default_factory=list, description="Drop only thinking matching one of these regexes."
    )

    @field_validator("only_if_matching")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {error}") from error
        return patterns


class DropThinkingPolicy(Policy[DropThinkingConfig]):
    """Drops thinking blocks (all, or those matching a pattern or carrying a secret), recorded."""

    config_model = DropThinkingConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.THINKING})

    def __init__(self, config: DropThinkingConfig, name: str = "") -> None:
        super().__init__(config, name)
        self._patterns = [re.compile(pattern) for pattern in config.only_if_matching]
        self._conditional = config.only_if_secret or bool(self._patterns)

    def reason_to_drop(self, text: str) -> str | None:
        """Why a thinking text is dropped (`always`, `secret`, `pattern`), or None to keep it."""
        if not self._conditional:
            return "always"
        if self.config.only_if_secret and find_secrets(text):
            return "secret"
        if any(pattern.search(text) for pattern in self._patterns):
            return "pattern"
        return None

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Drop a held thinking block, or send it as it came."""
        if event.block.kind is not BlockKind.THINKING:
            return [event]
        reason = self.reason_to_drop(event.block.text)
        if reason is None:
            return [event]
        ctx.record(DROPPED_EVENT, index=event.index, chars=len(event.block.text), reason=reason)
        return []
