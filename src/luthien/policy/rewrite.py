r"""A streaming text rewriter: regex or literal rules applied to text as it streams, across deltas.

Streaming text arrives in pieces and a match can straddle two of them. A `TextRewriter` holds back
the last `holdback_chars` characters of a block (never less than the longest literal minus one)
until more text arrives or the block ends, never releases text a match could still start in, and
rewrites the block so far each time, so rules see the same context (word boundaries, earlier
rewrites) as they would on the whole text. Text is released delta by delta: a delta that no rule
changed is sent as the very event that arrived, so it keeps the upstream's bytes; a changed one is a
copy with the new text (and its `wire_fields`). A regex match longer than the window may be missed
when it straddles deltas: raise `holdback_chars` for long patterns.

```python
class Redact(Policy[PolicyConfig]):
    rewriter = TextRewriter([Rewrite.regex(r"sk-[A-Za-z0-9]{20,}", "[key]")], holdback_chars=64)

    async def on_block_delta(self, event, ctx):
        return self.rewriter.on_block_delta(event, ctx)

    async def on_block_complete(self, event, ctx):
        return self.rewriter.on_block_complete(event, ctx)
```
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from luthien.call.events import BlockComplete, BlockDelta, BlockKind, CallEvent, merged_wire_fields
from luthien.policy.base import PolicyContext

DEFAULT_HOLDBACK_CHARS = 64
"""Characters of a text block held back by default: enough for most secrets and phrases."""

Replacement = str | Callable[[re.Match[str]], str]
"""A literal replacement text, or a function of the match."""


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One rule: every match of `pattern` is replaced by `replacement`.

    A `str` replacement is literal text (no group references); use `Rewrite.regex` for templates.
    """

    pattern: re.Pattern[str]
    replacement: Replacement
    literal_length: int | None = None
    """For a literal rule, the length of the text it finds (the hold-back window covers it)."""

    @classmethod
    def literal(cls, find: str, replace: Replacement, *, ignore_case: bool = False) -> Rewrite:
        """Replace a literal string."""
        flags = re.IGNORECASE if ignore_case else 0
        return cls(re.compile(re.escape(find), flags), replace, len(find))

    @classmethod
    def regex(cls, pattern: str | re.Pattern[str], replace: Replacement) -> Rewrite:
        r"""Replace regex matches; a `str` replacement is a template (`\1`, `\g<name>`)."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        if isinstance(replace, str):
            template = replace
            return cls(compiled, lambda match: match.expand(template))
        return cls(compiled, replace)

    def apply(self, text: str) -> str:
        """Every match in `text` replaced."""
        replacement = self.replacement
        if isinstance(replacement, str):
            literal = replacement
            return self.pattern.sub(lambda _: literal, text)
        return self.pattern.sub(replacement, text)


class TextRewriter:
    """Applies rules, in order, to whole texts or to text blocks as they stream.

    One instance is shared by every call (it holds no per-call state); a block's progress lives in
    a `RewriteStream`, kept in `ctx.state` by the hook helpers.
    """

    def __init__(
        self,
        rules: Sequence[Rewrite],
        holdback_chars: int = DEFAULT_HOLDBACK_CHARS,
        kinds: frozenset[BlockKind] = frozenset({BlockKind.TEXT}),
    ) -> None:
        """Set the rules, the window, and which block kinds are rewritten (text by default)."""
        self.rules = list(rules)
        longest_literal = max((rule.literal_length or 0 for rule in self.rules), default=0)
        self.holdback = max(holdback_chars, longest_literal - 1)
        self.kinds = kinds
        self._state_key = f"luthien.rewrite.{id(self)}"

    def apply(self, text: str) -> str:
        """Every rule applied, in order, to a complete text."""
        for rule in self.rules:
            text = rule.apply(text)
        return text

    def safe_cut(self, text: str) -> int:
        """How much of `text` may be final: not the hold-back window, not inside a possible match."""
        cut = max(0, len(text) - self.holdback)
        for rule in self.rules:
            for match in rule.pattern.finditer(text):
                if match.start() < cut < match.end():
                    cut = match.start()
        return cut

    def inside_match(self, text: str, position: int) -> bool:
        """Whether `position` falls strictly inside a match of any rule in `text`."""
        return any(
            match.start() < position < match.end()
            for rule in self.rules
            for match in rule.pattern.finditer(text)
        )

    def stream(self) -> RewriteStream:
        """A fresh stream for one block."""
        return RewriteStream(self)

    def rewrites(self, event: BlockDelta) -> bool:
        """Whether this delta is text the rewriter handles (not a signature or provider data)."""
        return event.kind in self.kinds and event.signature is None and event.data is None

    def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> list[CallEvent]:
        """What to send for a delta, for a policy's `on_block_delta`."""
        if not self.rewrites(event):
            return [event]
        streams: dict[int, RewriteStream] = ctx.state.setdefault(self._state_key, {})
        return list(streams.setdefault(event.index, self.stream()).feed(event))

    def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> list[CallEvent]:
        """The rest of the block's text, then the completion, for a policy's `on_block_complete`."""
        streams: dict[int, RewriteStream] = ctx.state.setdefault(self._state_key, {})
        stream = streams.pop(event.index, None)
        if stream is None:
            return [event]
        return [*stream.finish(), event]


@dataclass(slots=True)
class _Pending:
    event: BlockDelta
    start: int


class RewriteStream:
    """One text block in progress: feed it the block's deltas, then `finish` it."""

    def __init__(self, rewriter: TextRewriter) -> None:
        """Start an empty block."""
        self.rewriter = rewriter
        self.raw = ""
        """All text received."""
        self.released = ""
        """The rewritten text sent so far."""
        self._pending: list[_Pending] = []
        self._fields: dict[str, Any] | None = None  # wire fields of pieces merged into the next one
        self._last: BlockDelta | None = None

    def feed(self, event: BlockDelta) -> list[BlockDelta]:
        """Take a delta; return the deltas to send now (originals where nothing changed)."""
        self._pending.append(_Pending(event, len(self.raw)))
        self.raw += event.text
        self._last = event
        return self._release(self.rewriter.safe_cut(self.raw))

    def finish(self) -> list[BlockDelta]:
        """Return the deltas that complete the block's rewritten text."""
        out = self._release(len(self.raw))
        rest = self.rewriter.apply(self.raw)[len(self.released) :]
        if rest and self._last is not None:
            # A release the rules' context kept from settling delta by delta: the rest in one piece.
            fields = self._fields
            for pending in self._pending:
                fields = merged_wire_fields(fields, pending.event.wire_fields)
            out.append(dataclasses.replace(self._last, text=rest, wire_fields=fields))
        self.released += rest
        self._pending = []
        self._fields = None
        return out

    def _release(self, cut: int) -> list[BlockDelta]:
        rewriter = self.rewriter
        rewritten = rewriter.apply(self.raw)
        out: list[BlockDelta] = []
        consumed = 0
        fields = self._fields
        for position, pending in enumerate(self._pending):
            end = pending.start + len(pending.event.text)
            if end > cut:
                break
            fields = merged_wire_fields(fields, pending.event.wire_fields)
            if rewriter.inside_match(self.raw, end):
                continue  # a match straddles this delta's end: it goes out with the next one
            prefix = rewritten if end == len(self.raw) else rewriter.apply(self.raw[:end])
            if not rewritten.startswith(prefix) or not prefix.startswith(self.released):
                break  # context after the cut still changes this part: wait for more text
            text = prefix[len(self.released) :]
            alone = position == consumed
            if alone and text == pending.event.text and fields == pending.event.wire_fields:
                out.append(pending.event)  # unchanged: the upstream's bytes
                fields = None
            elif text:
                out.append(dataclasses.replace(pending.event, text=text, wire_fields=fields))
                fields = None
            self.released = prefix
            consumed = position + 1
            self._fields = fields
        self._pending = self._pending[consumed:]
        return out
