"""Runners: the per-call machinery that applies a policy's hooks to a normalized event stream.

`HookRunner` calls one policy's hooks, buffers the block kinds it holds, completes held tool calls
concurrently (each judgment starts the moment its block completes; text keeps flowing; results are
collected at the message end, where tool calls belong), applies the policy's `on_error` choice, and
runs the policy's output through a `Repairer` so the next stage always gets a well-formed sequence.
`ChainRunner` composes runners in order; `runner_for` picks the runner of a policy.

Held block lifecycle:

```
BlockStart(kind in holds) -> buffering --BlockDelta--> buffering
buffering --BlockComplete, tool call--> judging (task started) --MessageEnd--> resolved
buffering --BlockComplete, other kind--> resolved (awaited in place, order kept)
resolved: hook returned the same event -> the buffered originals are sent (original bytes)
          hook returned other events     -> those are sent instead
```

`Opaque` events (pings, comments, unknown events, upstream errors) keep their upstream place among
held blocks: one that arrives while a block is buffering is buffered with it (with the latest started
one), and one that arrives while tool calls are being judged is queued behind them; either is sent
where it was once those blocks are resolved (after a replacement, when a hook changed its block). If
the upstream ends without a message end, the queued `Opaque` events are still sent (the held blocks
are not). When `process` ends, for whatever reason, every pending judgment is cancelled and awaited:
none outlives the call, and none's exception goes unretrieved.

Held bytes are bounded (`luthien.policy.holding`): a held block whose events would take what the
policy holds past `ctx.max_held_bytes` is blocked (dropped, replaced by a blocked message where it
would have been sent) or released unjudged, per the policy's `on_held_overflow`. `holding` says
whether anything is held or being decided right now (the stream's keep-alive reads it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from opentelemetry.trace import Span

from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Opaque,
)
from luthien.call.repair import Repairer
from luthien.call.request import CallRequest
from luthien.observability.tracing import span, start_span
from luthien.policy.base import OnError, OnHeldOverflow, Policy, PolicyContext, Runner
from luthien.policy.helpers import send_text
from luthien.policy.holding import HELD_OVERFLOW_EVENT, held_size, overflow_message, overflow_reason

# Characters of a policy exception's text kept in the activity record.
ERROR_EXCERPT_CHARS = 500


class PolicyFailure(Exception):
    """A policy raised and its `on_error` is `fail`: the call fails closed."""

    def __init__(self, policy_name: str) -> None:
        super().__init__(policy_name)
        self.policy_name = policy_name


_E = TypeVar("_E", MessageStart, BlockStart, BlockDelta, BlockComplete, MessageEnd)
_Judgment = tuple["asyncio.Future[list[CallEvent]]", list[CallEvent], BlockComplete]
"""A held tool call being judged: the task, the buffered events, the completion judged."""


def runner_for(policy: Policy[Any], ctx: PolicyContext) -> Runner:
    """The runner that applies `policy` to one call: its own (a composite policy's) or a `HookRunner`."""
    own = policy.runner(ctx)
    return HookRunner(policy, ctx) if own is None else own


class HookRunner:
    """Runs one policy's hooks over one call."""

    def __init__(self, policy: Policy[Any], ctx: PolicyContext) -> None:
        self.policy = policy
        self.ctx = ctx
        self._bypassed = False
        self._held: dict[int, list[CallEvent]] = {}
        self._pending: list[_Judgment | Opaque] = []
        self._response_span: Span | None = None
        # Bytes held: per buffering block, and of the buffered events of pending judgments.
        self._held_bytes: dict[int, int] = {}
        self._pending_bytes = 0
        # Blocks that overflowed: index -> the start (blocked) or None (released).
        self._overflowed: dict[int, BlockStart | None] = {}
        self._deciding = 0

    @property
    def holding(self) -> bool:
        """See `Runner.holding`."""
        return bool(self._held or self._pending or self._deciding)

    async def on_request(self, request: CallRequest) -> CallRequest:
        """Run `on_request`; on failure fail closed or forward the original, per `on_error`."""
        try:
            with span("policy.on_request", {"luthien.policy": self.policy.name}):
                result = await self.policy.on_request(request, self.ctx)
        except Exception as error:
            self._failed(error, "on_request")
            result = request
        self.ctx.request = result
        return result

    async def process(self, events: AsyncIterator[CallEvent]) -> AsyncIterator[CallEvent]:
        """Apply the hooks, then repair the output."""
        repairer = Repairer(self._report_repair)
        upstream_ended = False
        # Not the current span: async generator frames may be finalized in another context.
        self._response_span = start_span("policy.response", {"luthien.policy": self.policy.name})
        try:
            async for event in events:
                upstream_ended = upstream_ended or isinstance(event, MessageEnd)
                for produced in await self._handle(event):
                    for fixed in repairer.feed(produced):
                        yield fixed
            if not upstream_ended:
                for stranded in self._stranded_opaque():
                    for fixed in repairer.feed(stranded):
                        yield fixed
            for fixed in repairer.finish(upstream_ended):
                yield fixed
        finally:
            await self._cancel_judgments()
            if self._response_span is not None:
                self._response_span.end()

    async def _cancel_judgments(self) -> None:
        """Cancel every judgment still pending and wait for each to end (retrieving its exception)."""
        tasks = [entry[0] for entry in self._pending if not isinstance(entry, Opaque)]
        self._pending = []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _stranded_opaque(self) -> list[CallEvent]:
        """The `Opaque` events held back with blocks that will never be sent (no message end came)."""
        queued = [
            event
            for entry in self._pending
            for event in ([entry] if isinstance(entry, Opaque) else entry[1])
            if isinstance(event, Opaque)
        ]
        buffered = [event for held in self._held.values() for event in held if isinstance(event, Opaque)]
        return [*queued, *buffered]

    def _place(self, event: Opaque) -> list[CallEvent]:
        """Keep an `Opaque` event in its upstream place among held blocks (see the module docstring)."""
        if self._held:
            return self._hold(next(reversed(self._held)), event)
        if self._pending:
            self._pending.append(event)
            return []
        return [event]

    async def _handle(self, event: CallEvent) -> list[CallEvent]:
        if isinstance(event, Opaque):
            return self._place(event)
        if not isinstance(event, MessageStart | MessageEnd) and event.index in self._overflowed:
            return self._overflowing(event)
        if self._bypassed:
            released = self._release_held()
            if isinstance(event, MessageEnd):
                # Judgments already started still decide their calls (a failed one passes its call).
                released.extend(await self._resolve_pending())
            return [*released, event]
        policy = self.policy
        match event:
            case MessageStart():
                return await self._invoke(policy.on_message_start, event, [event])
            case BlockStart():
                if event.kind in policy.holds:
                    self._held[event.index] = []
                    self._held_bytes[event.index] = 0
                    return self._hold(event.index, event)
                return await self._invoke(policy.on_block_start, event, [event])
            case BlockDelta():
                if event.index in self._held:
                    return self._hold(event.index, event)
                return await self._invoke(policy.on_block_delta, event, [event])
            case BlockComplete():
                if event.index not in self._held:
                    return await self._invoke(policy.on_block_complete, event, [event])
                buffered = [*self._held.pop(event.index), event]
                size = self._held_bytes.pop(event.index, 0) + held_size(event)
                if event.block.kind is BlockKind.TOOL_CALL:
                    task = asyncio.ensure_future(self._invoke_held(event, buffered))
                    self._pending.append((task, buffered, event))
                    self._pending_bytes += size  # released by `_resolve_pending`, over the same events
                    return []
                self._deciding += 1
                try:
                    result = await self._invoke_held(event, buffered)
                finally:
                    self._deciding -= 1
                return _resolve(result, buffered, event)
            case MessageEnd():
                out = await self._resolve_pending()
                out.extend(await self._invoke(policy.on_message_complete, event, [event]))
                return out

    def _hold(self, index: int, event: CallEvent) -> list[CallEvent]:
        """Buffer `event` with held block `index`, unless that takes the policy past its limit."""
        size = held_size(event)
        limit = self.ctx.max_held_bytes
        if limit is not None and self._pending_bytes + sum(self._held_bytes.values()) + size > limit:
            return self._overflow(index, event)
        self._held[index].append(event)
        self._held_bytes[index] += size
        return []

    def _overflow(self, index: int, event: CallEvent) -> list[CallEvent]:
        """Held block `index` outgrew the limit at `event`: block it or release it (module docstring)."""
        buffered = [*self._held.pop(index), event]
        held = self._held_bytes.pop(index) + held_size(event)
        start = next((item for item in buffered if isinstance(item, BlockStart)), None)
        action = self.policy.on_held_overflow
        self.ctx.record(
            HELD_OVERFLOW_EVENT,
            index=index,
            kind=start.kind.value if start is not None else None,
            tool=start.tool_call.name if start is not None and start.tool_call is not None else None,
            held_bytes=held,
            limit=self.ctx.max_held_bytes,
            action=action.value,
        )
        if action is OnHeldOverflow.RELEASE or start is None:
            # (A held block's events always begin with its start; without one there is nothing to
            # name in a blocked message, and releasing is all that can be done.)
            self._overflowed[index] = None
            return [item for item in buffered if not isinstance(item, BlockComplete)]
        self._overflowed[index] = start
        # What arrived among the block's events stays in its upstream place.
        return [item for item in buffered if isinstance(item, Opaque)]

    def _overflowing(self, event: BlockStart | BlockDelta | BlockComplete) -> list[CallEvent]:
        """An event of a block that overflowed: passed (released), dropped or replaced (blocked)."""
        start = self._overflowed[event.index]
        if start is None:
            if isinstance(event, BlockComplete):
                del self._overflowed[event.index]
            return [event]
        if not isinstance(event, BlockComplete):
            return []
        del self._overflowed[event.index]
        reason = overflow_reason(self.policy.name, self.ctx.max_held_bytes or 0)
        self.ctx.record_blocked(reason, start.tool_call, overflow=True)
        replacement = send_text(overflow_message(start, reason))
        if start.kind is BlockKind.TOOL_CALL and self._pending:
            # Keep the upstream order among tool calls still being judged.
            decided: asyncio.Future[list[CallEvent]] = asyncio.get_running_loop().create_future()
            decided.set_result(replacement)
            self._pending.append((decided, [], event))
            return []
        return replacement

    async def _invoke_held(self, event: BlockComplete, buffered: list[CallEvent]) -> list[CallEvent]:
        """`on_block_complete` for a held block (a tool call being judged), in a span of its own."""
        attributes: dict[str, str | int] = {
            "luthien.policy": self.policy.name,
            "luthien.block_index": event.index,
        }
        call = event.block.tool_call
        if call is not None:
            attributes["luthien.tool"] = call.name
        with span("policy.on_block_complete", attributes, parent=self._response_span):
            return await self._invoke(self.policy.on_block_complete, event, buffered)

    async def _invoke(
        self,
        hook: Callable[[_E, PolicyContext], Awaitable[Sequence[CallEvent]]],
        event: _E,
        fallback: list[CallEvent],
    ) -> list[CallEvent]:
        try:
            return list(await hook(event, self.ctx))
        except Exception as error:
            self._failed(error, hook.__name__)
            return fallback

    async def _resolve_pending(self) -> list[CallEvent]:
        out: list[CallEvent] = []
        while self._pending:
            entry = self._pending[0]
            if isinstance(entry, Opaque):
                out.append(entry)
            else:
                task, buffered, original = entry
                out.extend(_resolve(await task, buffered, original))
                self._pending_bytes -= sum(held_size(event) for event in buffered)
            self._pending.pop(0)
        return out

    def _release_held(self) -> list[CallEvent]:
        released = [event for buffered in self._held.values() for event in buffered]
        self._held.clear()
        self._held_bytes.clear()
        return released

    def _failed(self, error: Exception, hook: str) -> None:
        """Record the failure; raise `PolicyFailure` unless the policy fails open."""
        self.ctx.record(
            "policy.error",
            hook=hook,
            error=type(error).__name__,
            detail=str(error)[:ERROR_EXCERPT_CHARS],
            on_error=self.policy.on_error.value,
        )
        if self.policy.on_error is OnError.FAIL:
            raise PolicyFailure(self.policy.name) from error
        self._bypassed = True

    def _report_repair(self, kind: str, detail: dict[str, Any]) -> None:
        self.ctx.record("policy.repaired", repair=kind, **detail)


def _resolve(result: list[CallEvent], buffered: list[CallEvent], original: BlockComplete) -> list[CallEvent]:
    """A held block's output: its original events when the hook passed it unchanged.

    Otherwise the hook's events, followed by the `Opaque` events that arrived while it was buffered.
    """
    if len(result) == 1 and result[0] is original:
        return buffered
    return [*result, *(event for event in buffered if isinstance(event, Opaque))]


class ChainRunner:
    """Runs several runners in order: requests and responses pass through each in turn."""

    def __init__(self, runners: Sequence[Runner]) -> None:
        self.runners = list(runners)

    async def on_request(self, request: CallRequest) -> CallRequest:
        """Each policy's `on_request`, in order."""
        for runner in self.runners:
            request = await runner.on_request(request)
        return request

    @property
    def holding(self) -> bool:
        """Whether any member holds content."""
        return any(runner.holding for runner in self.runners)

    def process(self, events: AsyncIterator[CallEvent]) -> AsyncIterator[CallEvent]:
        """Each policy's output feeds the next."""
        for runner in self.runners:
            events = runner.process(events)
        return events
