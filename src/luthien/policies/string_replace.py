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
one) until more text arrives or the block ends, never releases text that a match could still start
in, and rewrites the whole block so far each time, so rules see the same context (word boundaries,
earlier rewrites) as they would on the complete text. A regex match longer than the window may be
missed when it straddles deltas: raise `holdback_chars` for long patterns. With `preserve_case`, a
replacement follows the case of the text it replaces (`FOO`→`BAR`, `Foo`→`Bar`, `foo`→`bar`). A
literal rule's `replace` is literal text; a regex rule's may refer to groups (`\1`, `\g<name>`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from luthien.call.events import BlockComplete, BlockDelta, BlockKind, CallEvent, merged_wire_fields
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
        """Release the rewritten text that more text can no longer change."""
        if event.kind is not BlockKind.TEXT or event.signature is not None or event.data is not None:
            return [event]
        block = self._block_state(ctx, event.index)
        block.raw += event.text
        rewritten = self.apply(block.raw)
        # Text the window still holds back may yet complete (or break) a match, so only the part of
        # the rewrite that is the same with and without the held-back tail is final.
        settled = self.apply(block.raw[: self._safe_cut(block.raw)])
        stable = _common_prefix_length(rewritten, settled)
        fields = merged_wire_fields(block.wire_fields, event.wire_fields)
        if stable <= len(block.released) or not rewritten.startswith(block.released):
            block.wire_fields = fields  # e.g. annotations go out with the next piece released
            return []
        text, block.released = rewritten[len(block.released) : stable], rewritten[:stable]
        block.wire_fields = None
        return [dataclasses.replace(event, text=text, wire_fields=fields)]

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Release the rest of the block, rewritten, before the completion."""
        blocks: dict[int, _BlockText] = ctx.state.setdefault("blocks", {})
        block = blocks.pop(event.index, None)
        if block is None:
            return [event]
        rest = self.apply(block.raw)[len(block.released) :]
        if not rest:
            return [event]
        return [BlockDelta(event.index, BlockKind.TEXT, text=rest, wire_fields=block.wire_fields), event]

    def _block_state(self, ctx: PolicyContext, index: int) -> _BlockText:
        blocks: dict[int, _BlockText] = ctx.state.setdefault("blocks", {})
        return blocks.setdefault(index, _BlockText())


@dataclass(slots=True)
class _BlockText:
    """One text block's progress: all text received, and the rewritten text already sent."""

    raw: str = ""
    released: str = ""
    wire_fields: dict[str, Any] | None = None
    """What the wire carried beside text held back (see `BlockDelta.wire_fields`)."""


def _common_prefix_length(first: str, second: str) -> int:
    for position, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return position
    return min(len(first), len(second))
