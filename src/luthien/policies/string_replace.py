r"""`string_replace`: replaces literal strings or regex matches in the text the model writes.

```yaml
policies:
  redact:
    class: string_replace
    config:
      replacements:
        - {find: "Project Falcon", replace: "the project", ignore_case: true, preserve_case: true}
        - {find: "sk-[A-Za-z0-9]{20,}", replace: "[key removed]", regex: true}
      holdback_chars: 64
```

Streaming text arrives in pieces, and a match can straddle two pieces. The policy therefore holds
back the last `holdback_chars` characters of each text block (at least the longest literal minus
one) until more text arrives or the block ends, and never releases text that a match could still
start in. A regex match longer than the window may be missed when it straddles deltas: raise
`holdback_chars` for long patterns. With `preserve_case`, a replacement follows the case of the text
it replaces (`FOO`→`BAR`, `Foo`→`Bar`, `foo`→`bar`). A literal rule's `replace` is literal text; a
regex rule's may refer to groups (`\1`, `\g<name>`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from luthien.call.events import BlockComplete, BlockDelta, BlockKind, CallEvent
from luthien.policy.base import Policy, PolicyConfig, PolicyContext

DEFAULT_HOLDBACK_CHARS = 64


class Replacement(BaseModel):
    """One rule."""

    model_config = ConfigDict(extra="forbid")

    find: str = Field(min_length=1)
    replace: str
    regex: bool = False
    ignore_case: bool = False
    preserve_case: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> Replacement:
        try:
            pattern = self.pattern()
        except re.error as error:
            raise ValueError(f"find: not a valid regular expression: {error}") from error
        if self.regex:
            try:
                # Compiles the replacement template (group references, escapes) without a match.
                pattern.sub(self.replace, "")
            except re.error as error:
                raise ValueError(f"replace: not a valid replacement template: {error}") from error
        return self

    def pattern(self) -> re.Pattern[str]:
        """The compiled pattern (a literal is escaped)."""
        flags = re.IGNORECASE if self.ignore_case else 0
        return re.compile(self.find if self.regex else re.escape(self.find), flags)


class StringReplaceConfig(PolicyConfig):
    """The rules, applied in order, and the streaming window."""

    replacements: list[Replacement] = Field(min_length=1)
    holdback_chars: int = Field(default=DEFAULT_HOLDBACK_CHARS, ge=0)


def _case_like(template: str, replacement: str) -> str:
    if template.isupper():
        return replacement.upper()
    if template.islower():
        return replacement.lower()
    if template[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


class StringReplacePolicy(Policy[StringReplaceConfig]):
    """Rewrites text blocks, correctly across delta boundaries."""

    config_model = StringReplaceConfig

    def __init__(self, config: StringReplaceConfig, name: str = "") -> None:
        super().__init__(config, name)
        self._rules = [(rule.pattern(), rule) for rule in config.replacements]
        longest_literal = max((len(rule.find) for rule in config.replacements if not rule.regex), default=1)
        self._holdback = max(config.holdback_chars, longest_literal - 1)

    def _substitute(self, pattern: re.Pattern[str], rule: Replacement, text: str) -> str:
        def replacement(match: re.Match[str]) -> str:
            # A literal rule's replacement is literal text; a regex rule's is a template (\1, \g<name>).
            new = match.expand(rule.replace) if rule.regex else rule.replace
            return _case_like(match.group(0), new) if rule.preserve_case else new

        return pattern.sub(replacement, text)

    def apply(self, text: str) -> str:
        """Every rule applied, in order, to a complete text."""
        for pattern, rule in self._rules:
            text = self._substitute(pattern, rule, text)
        return text

    def _safe_cut(self, text: str) -> int:
        """How much of `text` can be released: not the holdback window, not inside a possible match."""
        cut = max(0, len(text) - self._holdback)
        for pattern, _ in self._rules:
            for match in pattern.finditer(text):
                if match.start() < cut < match.end():
                    cut = match.start()
        return cut

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Buffer text, release what can no longer be part of a match (rewritten)."""
        if event.kind is not BlockKind.TEXT or event.signature is not None or event.data is not None:
            return [event]
        pending: dict[int, str] = ctx.state.setdefault("pending", {})
        text = pending.get(event.index, "") + event.text
        cut = self._safe_cut(text)
        pending[event.index] = text[cut:]
        if cut == 0:
            return []
        return [dataclasses.replace(event, text=self.apply(text[:cut]))]

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Release the held tail of the block, rewritten, before the completion."""
        pending: dict[int, str] = ctx.state.setdefault("pending", {})
        rest = pending.pop(event.index, "")
        if not rest:
            return [event]
        return [BlockDelta(event.index, BlockKind.TEXT, text=self.apply(rest)), event]
