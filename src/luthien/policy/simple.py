"""`SimplePolicy`: whole-block callbacks for authors who do not want to think about streaming.

Text blocks (when `on_text` is overridden) and tool-call blocks (when `on_tool_call` is) are held
until complete, then handed over whole; thinking blocks and everything else pass through untouched.
Subclasses override any of:

- `on_request(request, ctx) -> request`: inspect or change the request.
- `on_text(text, ctx) -> str`: the whole text of a text block; return the text to send.
- `on_tool_call(call, ctx) -> ToolCall | Blocked | None`: the whole tool call; return it (or a
  changed copy) to send it, `Blocked(reason)` to replace it by a readable blocked message (`Blocked(reason,
  show_arguments=False)` leaves the arguments out of it), or None to
  drop it silently. A block is recorded as a `policy.blocked` activity event.

Example, a policy that refuses `rm -rf` and redacts a codename:

```python
class Careful(SimplePolicy):
    async def on_text(self, text, ctx):
        return text.replace("Project Falcon", "[redacted]")

    async def on_tool_call(self, call, ctx):
        command = (call.parsed_arguments or {}).get("command", "")
        if "rm -rf" in command:
            return Blocked("recursive deletes are not allowed here")
        return call
```

Because blocks are held, a client sees each text block at once when it is complete rather than
token by token; use `Policy` and its streaming hooks when that matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from luthien.call.events import BlockComplete, BlockKind, CallEvent, ToolCall, text_block
from luthien.policy.base import ConfigT, Policy, PolicyContext
from luthien.policy.helpers import replace_tool_call, send_blocked_message


@dataclass(frozen=True, slots=True)
class Blocked:
    """Returned by `on_tool_call` to block the call; `reason` is shown to the user.

    With `show_arguments=False` the blocked message leaves the call's arguments out, so a call that
    tried to send a secret somewhere does not print the secret back.
    """

    reason: str
    show_arguments: bool = True


class SimplePolicy(Policy[ConfigT]):
    """Base class for whole-block policies (see the module docstring)."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Hold only what the subclass reads: text streams on unless `on_text` is overridden."""
        super().__init_subclass__(**kwargs)
        held: set[BlockKind] = set()
        base: Any = SimplePolicy
        if cls.on_text is not base.on_text:
            held.add(BlockKind.TEXT)
        if cls.on_tool_call is not base.on_tool_call:
            held.add(BlockKind.TOOL_CALL)
        cls.holds = frozenset(held)

    async def on_text(self, text: str, ctx: PolicyContext) -> str:
        """The whole text of a text block; return the text to send instead (default: unchanged)."""
        return text

    async def on_tool_call(self, call: ToolCall, ctx: PolicyContext) -> ToolCall | Blocked | None:
        """A whole tool call; return it, a changed `ToolCall`, `Blocked(reason)`, or None to drop it."""
        return call

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Dispatch held blocks to `on_text` / `on_tool_call`."""
        block = event.block
        if block.kind is BlockKind.TEXT:
            text = await self.on_text(block.text, ctx)
            return [event] if text == block.text else [BlockComplete(event.index, text_block(text))]
        if block.kind is BlockKind.TOOL_CALL and block.tool_call is not None:
            return self._tool_call_output(
                event, block.tool_call, await self.on_tool_call(block.tool_call, ctx), ctx
            )
        return [event]

    def _tool_call_output(
        self, event: BlockComplete, call: ToolCall, result: Any, ctx: PolicyContext
    ) -> Sequence[CallEvent]:
        if result is None:
            return []
        if isinstance(result, Blocked):
            return send_blocked_message(call, result.reason, ctx, show_arguments=result.show_arguments)
        if result == call:
            return [event]
        return replace_tool_call(event, result)
