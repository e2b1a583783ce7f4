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

Text is rewritten as it streams by the shared `luthien.policy.rewrite.TextRewriter`: the last
`holdback_chars` characters of each text block (at least the longest literal minus one) are held
back until more text arrives or the block ends, and a delta no rule changed keeps its upstream
bytes. A regex match longer than the window may be missed when it straddles deltas: raise
`holdback_chars` for long patterns. With `preserve_case`, a replacement follows the case of the text
it replaces (`FOO`→`BAR`, `Foo`→`Bar`, `foo`→`bar`). A literal rule's `replace` is literal text; a
regex rule's may refer to groups (`\1`, `\g<name>`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from luthien.call.events import BlockComplete, BlockDelta, CallEvent
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.rewrite import DEFAULT_HOLDBACK_CHARS, Rewrite, TextRewriter


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


def _rewrite(rule: Replacement) -> Rewrite:
    """The rewriter rule for a config rule."""

    def replacement(match: re.Match[str]) -> str:
        # A literal rule's replacement is literal text; a regex rule's is a template (\1, \g<name>).
        new = match.expand(rule.replace) if rule.regex else rule.replace
        return _case_like(match.group(0), new) if rule.preserve_case else new

    literal_length = None if rule.regex else len(rule.find)
    return Rewrite(rule.pattern(), replacement, literal_length)


class StringReplacePolicy(Policy[StringReplaceConfig]):
    """Rewrites text blocks, correctly across delta boundaries."""

    config_model = StringReplaceConfig

    def __init__(self, config: StringReplaceConfig, name: str = "") -> None:
        super().__init__(config, name)
        self.rewriter = TextRewriter([_rewrite(rule) for rule in config.replacements], config.holdback_chars)

    def apply(self, text: str) -> str:
        """Every rule applied, in order, to a complete text."""
        return self.rewriter.apply(text)

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Release the rewritten text that more text can no longer change."""
        return self.rewriter.on_block_delta(event, ctx)

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Release the rest of the block, rewritten, before the completion."""
        return self.rewriter.on_block_complete(event, ctx)
