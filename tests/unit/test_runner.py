"""The hook runner: default pass-through, held blocks, concurrent tool-call judgments, `on_error`, state.

Small policy classes are defined here; each runs through the real `HookRunner` (and its repairer)
over normalized events, as `PolicyStage` does for a call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from typing import Any, ClassVar, cast

import pytest

from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Opaque,
    StopReason,
    ToolCall,
    text_block,
    tool_call_block,
)
from luthien.call.request import CallRequest
from luthien.policies.chain import ChainConfig, ChainPolicy
from luthien.policy.base import OnError, Policy, PolicyConfig, PolicyContext
from luthien.policy.helpers import send_text
from luthien.policy.runner import ChainRunner, HookRunner, PolicyFailure, runner_for
from luthien.wire.events import WireEvent
from luthien.wire.formats import WireFormat
from tests.support.call_events import (
    START,
    aiter_of,
    run,
    text_events,
    texts,
    thinking_events,
    tool_calls,
    tool_events,
)
from tests.support.policy_runs import TRANSACTION_ID, make_ctx
from tests.support.tracing import traced

TEXT = BlockKind.TEXT
THINKING = BlockKind.THINKING
TOOL = BlockKind.TOOL_CALL
PING = Opaque(WireEvent("ping", {"type": "ping"}, "ping"))
CALL_A = ToolCall("toolu_a", "get_weather", '{"city": "Paris"}')
CALL_B = ToolCall("toolu_b", "get_time", '{"tz": "Asia/Tokyo"}')
# Guards a test against hanging forever if the runner deadlocks; never reached when it works.
DEADLOCK_GUARD_S = 30

FAIL = PolicyConfig(on_error=OnError.FAIL)
PASS = PolicyConfig(on_error=OnError.PASS)


def response(*, tools: bool = True) -> list[CallEvent]:
    """A whole call: thinking, text in three deltas, a ping, a tool call, the end."""
    return [
        START,
        PING,
        *thinking_events(0, "hmm", "sig=="),
        *text_events(1, "Hel", "lo ", "world"),
        *(tool_events(2, CALL_A) if tools else []),
        MessageEnd(StopReason.TOOL_USE if tools else StopReason.END_TURN),
    ]


def streamed_text(events: Sequence[CallEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, BlockDelta) and e.kind is TEXT)


def request() -> CallRequest:
    body = {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    return CallRequest(WireFormat.ANTHROPIC, body, b"raw-bytes")


# --- defaults ---------------------------------------------------------------------------------


class Identity(Policy[PolicyConfig]):
    """Overrides every hook but only calls the defaults."""

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        return await super().on_message_start(event, ctx)

    async def on_block_start(self, event: BlockStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        return await super().on_block_start(event, ctx)

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        return await super().on_block_delta(event, ctx)

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        return await super().on_block_complete(event, ctx)

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        return await super().on_message_complete(event, ctx)


@pytest.mark.asyncio
async def test_default_hooks_return_the_event_they_received() -> None:
    policy = Policy[PolicyConfig](PolicyConfig())
    ctx = make_ctx()
    for event in response():
        match event:
            case MessageStart():
                out = await policy.on_message_start(event, ctx)
            case BlockStart():
                out = await policy.on_block_start(event, ctx)
            case BlockDelta():
                out = await policy.on_block_delta(event, ctx)
            case BlockComplete():
                out = await policy.on_block_complete(event, ctx)
            case MessageEnd():
                out = await policy.on_message_complete(event, ctx)
            case Opaque():
                continue
        assert len(out) == 1
        assert out[0] is event
    assert await policy.on_request(req := request(), ctx) is req


@pytest.mark.parametrize("policy_class", [Policy, Identity], ids=["base", "identity_overrides"])
@pytest.mark.asyncio
async def test_identity_policy_outputs_the_same_objects(policy_class: type[Policy[PolicyConfig]]) -> None:
    events = response()

    out = await run(HookRunner(policy_class(PolicyConfig()), make_ctx()), events)

    assert len(out) == len(events)
    assert all(sent is original for sent, original in zip(out, events, strict=True))


def test_inspects_response_only_when_a_response_hook_or_hold_is_used() -> None:
    class RequestOnly(Policy[PolicyConfig]):
        async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
            return request

    class HoldsOnly(Policy[PolicyConfig]):
        holds: ClassVar[frozenset[BlockKind]] = frozenset({TEXT})

    assert not Policy[PolicyConfig](PolicyConfig()).inspects_response
    assert not RequestOnly(PolicyConfig()).inspects_response
    assert HoldsOnly(PolicyConfig()).inspects_response
    assert Identity(PolicyConfig()).inspects_response


@pytest.mark.asyncio
async def test_on_request_result_is_forwarded_and_kept_on_the_context() -> None:
    class Reroute(Policy[PolicyConfig]):
        async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
            return request.with_model("claude-other")

    ctx = make_ctx()
    forwarded = await HookRunner(Reroute(PolicyConfig()), ctx).on_request(request())

    assert forwarded.model == "claude-other"
    assert forwarded.raw is None
    assert ctx.request is forwarded


# --- held blocks ------------------------------------------------------------------------------


class HoldText(Policy[PolicyConfig]):
    """Holds text blocks; replaces a block's text when it is in `replacements`."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TEXT})

    def __init__(self, config: PolicyConfig, replacements: dict[str, str] | None = None) -> None:
        super().__init__(config)
        self.replacements = replacements or {}
        self.streamed: list[CallEvent] = []

    async def on_block_start(self, event: BlockStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        self.streamed.append(event)
        return [event]

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        self.streamed.append(event)
        return [event]

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        replacement = self.replacements.get(event.block.text)
        return [event] if replacement is None else send_text(replacement)


@pytest.mark.asyncio
async def test_held_block_unchanged_is_released_as_its_original_events() -> None:
    events = response()
    policy = HoldText(PolicyConfig())

    out = await run(HookRunner(policy, make_ctx()), events)

    assert len(out) == len(events)
    assert all(sent is original for sent, original in zip(out, events, strict=True))
    # Held kinds never reach the streaming hooks; other kinds do.
    assert all(getattr(event, "kind", None) is not TEXT for event in policy.streamed)
    assert any(getattr(event, "kind", None) is THINKING for event in policy.streamed)


@pytest.mark.asyncio
async def test_held_block_is_not_streamed_before_it_completes() -> None:
    runner = HookRunner(HoldText(PolicyConfig()), make_ctx())
    out: list[CallEvent] = []
    sent_before_completion: list[CallEvent] = []

    async def source() -> AsyncIterator[CallEvent]:
        yield START
        yield BlockStart(0, TEXT)
        yield BlockDelta(0, TEXT, text="partial")
        # Resumed only once everything produced for the events above has been consumed.
        sent_before_completion.extend(out)
        yield BlockComplete(0, text_block("partial"))
        yield MessageEnd(StopReason.END_TURN)

    async for event in runner.process(source()):
        out.append(event)

    assert sent_before_completion == [START]
    assert texts(out) == ["partial"]


@pytest.mark.asyncio
async def test_held_block_replaced_when_the_hook_returns_other_events() -> None:
    policy = HoldText(PolicyConfig(), {"Hello world": "Bonjour"})
    events = response()

    out = await run(HookRunner(policy, make_ctx()), events)

    assert texts(out) == ["Bonjour"]
    assert streamed_text(out) == "Bonjour"
    (start,) = [e for e in out if isinstance(e, BlockStart) and e.kind is TEXT]
    assert start.index == 1
    assert not any(start is original for original in events)
    # Everything else is still the original objects, in order.
    kept = [e for e in out if any(e is original for original in events)]
    assert kept == [e for e in events if not _is_text(e)]
    assert tool_calls(out) == [CALL_A]


def _is_text(event: CallEvent) -> bool:
    if isinstance(event, BlockStart | BlockDelta):
        return event.kind is TEXT
    if isinstance(event, BlockComplete):
        return event.block.kind is TEXT
    return False


@pytest.mark.asyncio
async def test_held_non_tool_blocks_keep_their_place() -> None:
    policy = HoldText(PolicyConfig(), {"two": "TWO"})
    events: list[CallEvent] = [
        START,
        *text_events(0, "one"),
        *thinking_events(1, "mid", "s"),
        *text_events(2, "t", "wo"),
        *text_events(3, "three"),
        MessageEnd(StopReason.END_TURN),
    ]

    out = await run(HookRunner(policy, make_ctx()), events)

    completed = [e.block for e in out if isinstance(e, BlockComplete)]
    assert [(block.kind, block.text) for block in completed] == [
        (TEXT, "one"),
        (THINKING, "mid"),
        (TEXT, "TWO"),
        (TEXT, "three"),
    ]
    assert [e.index for e in out if isinstance(e, BlockStart)] == [0, 1, 2, 3]


# --- concurrent tool-call judgments -----------------------------------------------------------


class Rendezvous(Policy[PolicyConfig]):
    """Holds tool calls; each judgment waits until both have started, then until `release`."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TOOL})

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__(config)
        self.running = 0
        self.max_running = 0
        self.finished: list[str] = []
        self.both_started = asyncio.Event()
        self.release = asyncio.Event()
        self._started: list[str] = []

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        call = event.block.tool_call
        if call is None:  # not held: a streamed block's completion
            return [event]
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self._started.append(call.id)
        if len(self._started) == 2:
            self.both_started.set()
        await self.both_started.wait()
        await self.release.wait()
        self.running -= 1
        self.finished.append(call.id)
        if call.id == CALL_B.id:
            return [
                BlockComplete(
                    event.index, tool_call_block(dataclasses.replace(call, arguments='{"tz": "UTC"}'))
                )
            ]
        return [event]


@pytest.mark.asyncio
async def test_held_tool_calls_are_judged_concurrently_and_text_is_not_delayed() -> None:
    policy = Rendezvous(PolicyConfig())
    runner = HookRunner(policy, make_ctx())
    end_gate = asyncio.Event()
    tool_a = tool_events(0, CALL_A)
    text_after = text_events(2, "meanwhile")
    running_when_text_completed: int | None = None
    finished_when_text_completed: list[str] | None = None

    async def source() -> AsyncIterator[CallEvent]:
        yield START
        for event in [*tool_a, *tool_events(1, CALL_B), *text_after]:
            yield event
        await end_gate.wait()
        yield MessageEnd(StopReason.TOOL_USE)

    out: list[CallEvent] = []
    async with asyncio.timeout(DEADLOCK_GUARD_S):
        async for event in runner.process(source()):
            out.append(event)
            if isinstance(event, BlockComplete) and event.block.kind is TEXT:
                # The text after the tool calls is out while neither judgment has finished.
                finished_when_text_completed = list(policy.finished)
                await policy.both_started.wait()
                running_when_text_completed = policy.running
                policy.release.set()
                end_gate.set()

    assert finished_when_text_completed == []
    assert running_when_text_completed == 2
    assert policy.max_running == 2
    assert texts(out) == ["meanwhile"]
    # Tool calls come after the text (renumbered), in their original order; A unchanged.
    assert tool_calls(out) == [CALL_A, dataclasses.replace(CALL_B, arguments='{"tz": "UTC"}')]
    assert [e for e in out if isinstance(e, BlockStart | BlockDelta | BlockComplete) and e.index == 1] == [
        dataclasses.replace(event, index=1) for event in tool_a
    ]
    assert [e.index for e in out if isinstance(e, BlockStart)] == [0, 1, 2]
    end = out[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE


class Blocker(Policy[PolicyConfig]):
    """Holds tool calls; a judgment never finishes until cancelled."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TOOL})

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__(config)
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        if event.block.kind is not TOOL:
            return [event]
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return [event]


@pytest.mark.asyncio
async def test_pending_judgments_are_cancelled_when_the_call_is_abandoned() -> None:
    policy = Blocker(PolicyConfig())
    runner = HookRunner(policy, make_ctx())

    async def source() -> AsyncIterator[CallEvent]:
        yield START
        for event in [*tool_events(0, CALL_A), *text_events(1, "x")]:
            yield event
        await asyncio.Event().wait()  # the upstream stalls; the client goes away

    stream = cast(AsyncGenerator[CallEvent, None], runner.process(source()))
    async with asyncio.timeout(DEADLOCK_GUARD_S):
        async for event in stream:
            if isinstance(event, BlockComplete):
                break
        await policy.started.wait()
        await stream.aclose()
        await policy.cancelled.wait()

    assert policy.cancelled.is_set()


# --- on_error ---------------------------------------------------------------------------------


class Boom(Exception):
    """The error test policies raise."""


class FailOn(Policy[PolicyConfig]):
    """Upper-cases text deltas; raises in `hook` when the event's text (or the block's) is `trigger`."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset()

    def __init__(self, config: PolicyConfig, hook: str, trigger: str = "") -> None:
        super().__init__(config)
        self.hook = hook
        self.trigger = trigger
        self.calls_after_failure = 0
        self.failed = False

    def _maybe_fail(self, hook: str, text: str) -> None:
        if self.failed:
            self.calls_after_failure += 1
        if hook == self.hook and text == self.trigger:
            self.failed = True
            raise Boom("policy bug")

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        self._maybe_fail("on_request", "")
        return request.with_model("changed")

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        self._maybe_fail("on_message_start", "")
        return [event]

    async def on_block_start(self, event: BlockStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        self._maybe_fail("on_block_start", event.kind.value)
        return [event]

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        self._maybe_fail("on_block_delta", event.text)
        if event.kind is TEXT:
            return [dataclasses.replace(event, text=event.text.upper())]
        return [event]

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        self._maybe_fail("on_block_complete", event.block.text)
        return [event]

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        self._maybe_fail("on_message_complete", "")
        return [event]


class HoldingFailOn(FailOn):
    holds: ClassVar[frozenset[BlockKind]] = frozenset({TEXT, TOOL})


def policy_errors(ctx: PolicyContext) -> list[dict[str, Any]]:
    return [
        event.data for event in ctx.activity.events(transaction_id=ctx.transaction_id, type="policy.error")
    ]


@pytest.mark.parametrize(
    ("hook", "trigger"),
    [
        ("on_message_start", ""),
        ("on_block_delta", "lo "),
        ("on_block_complete", "Hello world"),
        ("on_message_complete", ""),
    ],
)
@pytest.mark.asyncio
async def test_response_hook_raising_with_fail_raises_policy_failure(hook: str, trigger: str) -> None:
    ctx = make_ctx("strict")
    policy = FailOn(FAIL, hook, trigger)
    policy.name = "strict"

    with pytest.raises(PolicyFailure) as failure:
        await run(HookRunner(policy, ctx), response())

    assert failure.value.policy_name == "strict"
    assert failure.value.args == ("strict",)
    assert isinstance(failure.value.__cause__, Boom)
    (error,) = policy_errors(ctx)
    assert (error["hook"], error["error"], error["on_error"]) == (hook, "Boom", "fail")
    (event,) = ctx.activity.events(type="policy.error")
    assert event.policy == "strict"


@pytest.mark.asyncio
async def test_request_hook_raising_with_fail_raises_policy_failure() -> None:
    ctx = make_ctx()

    with pytest.raises(PolicyFailure):
        await HookRunner(FailOn(FAIL, "on_request"), ctx).on_request(request())

    (error,) = policy_errors(ctx)
    assert (error["hook"], error["on_error"]) == ("on_request", "fail")


@pytest.mark.asyncio
async def test_held_tool_judgment_raising_with_fail_raises_policy_failure() -> None:
    ctx = make_ctx()

    with pytest.raises(PolicyFailure):
        await run(HookRunner(HoldingFailOn(FAIL, "on_block_complete", ""), ctx), response())

    (error,) = policy_errors(ctx)
    assert (error["hook"], error["on_error"]) == ("on_block_complete", "fail")


@pytest.mark.asyncio
async def test_streaming_hook_raising_with_pass_lets_the_rest_through_unchanged() -> None:
    ctx = make_ctx()
    policy = FailOn(PASS, "on_block_delta", "lo ")
    events = response()

    out = await run(HookRunner(policy, ctx), events)

    # The delta before the failure was changed; the failing one and everything after pass unchanged.
    assert [e.text for e in out if isinstance(e, BlockDelta) and e.kind is TEXT] == ["HEL", "lo ", "world"]
    failing = events.index(next(e for e in events if isinstance(e, BlockDelta) and e.text == "lo "))
    completion = failing + 2
    assert all(
        sent is original
        for sent, original in zip(out[:completion], events[:completion], strict=True)
        if not (isinstance(original, BlockDelta) and original.text == "Hel")
    )
    # The upstream completion is corrected to what was actually sent; the rest is untouched.
    assert texts(out) == ["HELlo world"]
    assert all(
        sent is original
        for sent, original in zip(out[completion + 1 :], events[completion + 1 :], strict=True)
    )
    assert tool_calls(out) == [CALL_A]
    assert policy.calls_after_failure == 0
    (error,) = policy_errors(ctx)
    assert (error["hook"], error["error"], error["on_error"]) == ("on_block_delta", "Boom", "pass")


@pytest.mark.parametrize(
    ("hook", "trigger", "text_sent"),
    [
        ("on_message_start", "", "Hello world"),
        ("on_block_start", "text", "Hello world"),
        ("on_block_complete", "Hello world", "HELLO WORLD"),
        ("on_message_complete", "", "HELLO WORLD"),
    ],
)
@pytest.mark.asyncio
async def test_every_hook_raising_with_pass_lets_the_call_through_whole(
    hook: str, trigger: str, text_sent: str
) -> None:
    ctx = make_ctx()
    policy = FailOn(PASS, hook, trigger)
    events = response()

    out = await run(HookRunner(policy, ctx), events)

    # What was changed before the failure stays changed; from the failing event on, nothing is.
    assert streamed_text(out) == text_sent
    assert texts(out) == [text_sent]
    assert tool_calls(out) == [CALL_A]
    end = out[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE
    if text_sent == "Hello world":
        assert all(sent is original for sent, original in zip(out, events, strict=True))
    assert policy.calls_after_failure == 0
    (error,) = policy_errors(ctx)
    assert (error["hook"], error["error"], error["on_error"]) == (hook, "Boom", "pass")


@pytest.mark.asyncio
async def test_held_block_hook_raising_with_pass_releases_the_original_events() -> None:
    ctx = make_ctx()
    policy = HoldingFailOn(PASS, "on_block_complete", "Hello world")
    events = response()

    out = await run(HookRunner(policy, ctx), events)

    assert len(out) == len(events)
    assert all(sent is original for sent, original in zip(out, events, strict=True))
    assert policy.calls_after_failure == 0
    (error,) = policy_errors(ctx)
    assert (error["hook"], error["on_error"]) == ("on_block_complete", "pass")


@pytest.mark.asyncio
async def test_held_tool_judgment_raising_with_pass_sends_the_call_unchanged() -> None:
    ctx = make_ctx()
    events = response()

    out = await run(HookRunner(HoldingFailOn(PASS, "on_block_complete", ""), ctx), events)

    assert tool_calls(out) == [CALL_A]
    assert texts(out) == ["Hello world"]
    end = out[-1]
    assert isinstance(end, MessageEnd)
    assert end.stop_reason is StopReason.TOOL_USE
    assert [error["on_error"] for error in policy_errors(ctx)] == ["pass"]


@pytest.mark.asyncio
async def test_request_hook_raising_with_pass_forwards_the_original_and_bypasses_the_response() -> None:
    ctx = make_ctx()
    policy = FailOn(PASS, "on_request")
    runner = HookRunner(policy, ctx)
    original = request()

    forwarded = await runner.on_request(original)
    events = response()
    out = await run(runner, events)

    assert forwarded is original
    assert ctx.request is original
    assert all(sent is event for sent, event in zip(out, events, strict=True))
    assert policy.calls_after_failure == 0
    assert [error["hook"] for error in policy_errors(ctx)] == ["on_request"]


# --- repairs are recorded ---------------------------------------------------------------------


class OrphanDelta(Policy[PolicyConfig]):
    """Emits a delta for a block it never started."""

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        return [event, BlockDelta(42, TEXT, text="orphan")]


@pytest.mark.asyncio
async def test_repairs_are_recorded_as_activity() -> None:
    ctx = make_ctx()

    out = await run(HookRunner(OrphanDelta(PolicyConfig()), ctx), response(tools=False))

    assert texts(out) == ["Hello world", "orphan"]
    repairs = [event.data for event in ctx.activity.events(type="policy.repaired")]
    assert repairs == [
        {"repair": "delta_without_start", "index": 42},
        {"repair": "unclosed_block", "index": 42},
    ]


class SwallowEnd(Policy[PolicyConfig]):
    """Drops the message end (a policy mistake)."""

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        return []


@pytest.mark.asyncio
async def test_a_message_end_the_policy_dropped_is_supplied_when_the_upstream_ended() -> None:
    ctx = make_ctx()

    out = await run(HookRunner(SwallowEnd(PolicyConfig()), ctx), response(tools=False))

    assert texts(out) == ["Hello world"]
    assert isinstance(out[-1], MessageEnd)
    assert out[-1].stop_reason is StopReason.END_TURN
    repairs = [event.data for event in ctx.activity.events(type="policy.repaired")]
    assert repairs == [{"repair": "missing_message_end"}]


# --- per-call state ---------------------------------------------------------------------------


class CountingStamp(Policy[PolicyConfig]):
    """Counts text deltas in `ctx.state` and appends a block saying how many it saw, and for whom."""

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        if event.kind is TEXT:
            ctx.state["deltas"] = ctx.state.get("deltas", 0) + 1
        return [event]

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        return [*send_text(f"{ctx.transaction_id}:{ctx.state.get('deltas', 0)}"), event]


async def interleave(*streams: AsyncIterator[CallEvent]) -> list[list[CallEvent]]:
    """Pull one event from each stream in turn until all are exhausted."""
    results: list[list[CallEvent]] = [[] for _ in streams]
    active = dict(enumerate(streams))
    while active:
        for position, stream in list(active.items()):
            try:
                results[position].append(await anext(stream))
            except StopAsyncIteration:
                del active[position]
    return results


@pytest.mark.asyncio
async def test_state_is_per_call_even_when_calls_interleave() -> None:
    policy = CountingStamp(PolicyConfig())
    first = HookRunner(policy, make_ctx(transaction_id="call-1"))
    second = HookRunner(policy, make_ctx(transaction_id="call-2"))
    one_delta = [START, *text_events(0, "a"), MessageEnd(StopReason.END_TURN)]
    five_deltas = [START, *text_events(0, *"abcde"), MessageEnd(StopReason.END_TURN)]

    out_first, out_second = await interleave(
        first.process(aiter_of(one_delta)), second.process(aiter_of(five_deltas))
    )

    assert texts(out_first) == ["a", "call-1:1"]
    assert texts(out_second) == ["abcde", "call-2:5"]
    assert first.ctx.state == {"deltas": 1}
    assert second.ctx.state == {"deltas": 5}


# --- chains -----------------------------------------------------------------------------------


class Suffix(Policy[PolicyConfig]):
    """Appends its suffix to every text delta; records the context it ran with."""

    def __init__(self, config: PolicyConfig, name: str, suffix: str) -> None:
        super().__init__(config, name)
        self.suffix = suffix
        self.contexts: list[PolicyContext] = []

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        self.contexts.append(ctx)
        ctx.state["seen"] = ctx.state.get("seen", 0) + 1
        if event.kind is TEXT:
            return [dataclasses.replace(event, text=event.text + self.suffix)]
        return [event]


@pytest.mark.asyncio
async def test_chain_runs_members_in_order_each_with_its_own_context() -> None:
    first = Suffix(PolicyConfig(), "first", "1")
    second = Suffix(PolicyConfig(), "second", "2")
    chain = ChainPolicy(ChainConfig(policies=["first", "second"]), "both", [first, second])
    ctx = make_ctx("both")

    out = await run(
        runner_for(chain, ctx), [START, *text_events(0, "a", "b"), MessageEnd(StopReason.END_TURN)]
    )

    assert [e.text for e in out if isinstance(e, BlockDelta)] == ["a12", "b12"]
    assert texts(out) == ["a12b12"]
    assert {c.policy_name for c in first.contexts} == {"first"}
    assert {c.policy_name for c in second.contexts} == {"second"}
    assert {c.transaction_id for c in [*first.contexts, *second.contexts]} == {TRANSACTION_ID}
    assert first.contexts[0].state == {"seen": 2}
    assert second.contexts[0].state == {"seen": 2}
    assert first.contexts[0] is not second.contexts[0]


@pytest.mark.asyncio
async def test_chain_member_failing_open_does_not_stop_the_others() -> None:
    failing = FailOn(PASS, "on_block_delta", "a")
    failing.name = "failing"
    suffix = Suffix(PolicyConfig(), "suffix", "!")
    ctx = make_ctx("chain")
    runner = ChainRunner(
        [HookRunner(failing, make_ctx("failing", activity=ctx.activity)), HookRunner(suffix, ctx)]
    )

    out = await run(runner, [START, *text_events(0, "a", "b"), MessageEnd(StopReason.END_TURN)])

    assert texts(out) == ["a!b!"]
    assert [event.policy for event in ctx.activity.events(type="policy.error")] == ["failing"]


@pytest.mark.asyncio
async def test_chain_requests_pass_through_each_member_in_order() -> None:
    class Append(Policy[PolicyConfig]):
        def __init__(self, suffix: str) -> None:
            super().__init__(PolicyConfig())
            self.suffix = suffix

        async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
            return request.with_model(request.model + self.suffix)

    runner = ChainRunner([HookRunner(Append("-a"), make_ctx()), HookRunner(Append("-b"), make_ctx())])

    forwarded = await runner.on_request(request())

    assert forwarded.model == "claude-a-b"


class ApproveTools(Policy[PolicyConfig]):
    """Holds tool calls and approves each unchanged (what a judge that allows everything does)."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TOOL})


@pytest.mark.asyncio
async def test_unchanged_held_tool_calls_keep_the_upstream_order_of_a_ping_among_them() -> None:
    events: list[CallEvent] = [
        START,
        *text_events(0, "Checking."),
        *tool_events(1, CALL_A),
        PING,
        *tool_events(2, CALL_B),
        MessageEnd(StopReason.TOOL_USE),
    ]

    out = await run(HookRunner(ApproveTools(PolicyConfig()), make_ctx()), events)

    assert tool_calls(out) == [CALL_A, CALL_B]
    # The ping stays between the two tool calls, as the upstream sent it.
    assert [type(event).__name__ for event in out] == [type(event).__name__ for event in events]


class BlockTools(Policy[PolicyConfig]):
    """Holds tool calls and replaces each by a blocked message."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TOOL})

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        return send_text("blocked")


@pytest.mark.asyncio
async def test_a_ping_inside_an_unchanged_held_tool_call_keeps_its_place() -> None:
    start, delta, complete = tool_events(0, CALL_A)
    events: list[CallEvent] = [START, start, PING, delta, complete, MessageEnd(StopReason.TOOL_USE)]

    out = await run(HookRunner(ApproveTools(PolicyConfig()), make_ctx()), events)

    assert [type(event).__name__ for event in out] == [type(event).__name__ for event in events]


@pytest.mark.asyncio
async def test_a_ping_among_replaced_tool_calls_follows_the_replacement() -> None:
    events: list[CallEvent] = [START, *tool_events(0, CALL_A), PING, MessageEnd(StopReason.TOOL_USE)]

    out = await run(HookRunner(BlockTools(PolicyConfig()), make_ctx()), events)

    kinds = [type(event).__name__ for event in out]
    assert kinds == ["MessageStart", "BlockStart", "BlockDelta", "BlockComplete", "Opaque", "MessageEnd"]
    assert texts(out) == ["blocked"]


@pytest.mark.asyncio
async def test_pings_held_back_with_tool_calls_are_sent_when_the_upstream_ends_without_an_end() -> None:
    # An upstream error event among held tool calls must still reach the client when the stream stops.
    error = Opaque(WireEvent("error", {"type": "error", "error": {"type": "overloaded_error"}}, "error"))
    start, delta, _ = tool_events(1, CALL_B)
    events: list[CallEvent] = [START, *tool_events(0, CALL_A), PING, start, delta, error]

    out = await run(HookRunner(ApproveTools(PolicyConfig()), make_ctx()), events)

    assert out == [START, PING, error]


@pytest.mark.asyncio
async def test_a_ping_inside_a_judged_tool_call_is_sent_when_the_upstream_ends_without_an_end() -> None:
    start, delta, complete = tool_events(0, CALL_A)

    out = await run(
        HookRunner(ApproveTools(PolicyConfig()), make_ctx()), [START, start, PING, delta, complete]
    )

    assert out == [START, PING]


class WaitsForever(Policy[PolicyConfig]):
    """Holds tool calls; each judgment waits until cancelled, and records that it ended."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TOOL})

    def __init__(self) -> None:
        super().__init__(PolicyConfig())
        self.started = asyncio.Event()
        self.ended: list[str] = []

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.ended.append("cancelled")
        return [event]


async def until(started: asyncio.Event, events: Iterable[CallEvent]) -> AsyncIterator[CallEvent]:
    """`events`, then the end of the stream once `started` is set (the judgment is running)."""
    for event in events:
        yield event
    await asyncio.wait_for(started.wait(), DEADLOCK_GUARD_S)


@pytest.mark.asyncio
async def test_no_judgment_outlives_the_call() -> None:
    policy = WaitsForever()
    runner = HookRunner(policy, make_ctx())

    out = [event async for event in runner.process(until(policy.started, [START, *tool_events(0, CALL_A)]))]

    assert out == [START]
    assert policy.ended == ["cancelled"]


class FailsWhenCancelled(Policy[PolicyConfig]):
    """Holds tool calls; a judgment that is cancelled fails (a policy whose cleanup raises)."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset({TOOL})

    def __init__(self) -> None:
        super().__init__(FAIL)
        self.started = asyncio.Event()

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None
        return [event]


@pytest.mark.asyncio
async def test_a_judgment_failing_as_the_call_ends_has_its_exception_retrieved() -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    policy = FailsWhenCancelled()
    runner = HookRunner(policy, make_ctx())

    out = [event async for event in runner.process(until(policy.started, [START, *tool_events(0, CALL_A)]))]
    del runner
    for _ in range(3):  # let a judgment still running end, then collect it
        await asyncio.sleep(0)
    gc.collect()

    assert out == [START]
    assert unhandled == []


CUT_OFF = [START, *text_events(0, "Running it."), *tool_events(1, CALL_A)]
"""A stream whose upstream stopped after a whole tool call, before its message end."""


@pytest.mark.parametrize("policy_class", [Identity, ApproveTools], ids=["streaming", "holding tool calls"])
@pytest.mark.asyncio
async def test_a_cut_upstream_stream_gets_no_invented_end_and_no_held_tool_call(
    policy_class: type[Policy[PolicyConfig]],
) -> None:
    out = await run(HookRunner(policy_class(PolicyConfig()), make_ctx()), CUT_OFF)

    # The client must see a stream that stopped, not a finished turn asking it to run a tool.
    assert not any(isinstance(event, MessageEnd) for event in out)
    assert texts(out) == ["Running it."]
    if policy_class is ApproveTools:
        assert tool_calls(out) == []


@pytest.mark.asyncio
async def test_a_cut_stream_after_a_policy_failed_open_gets_no_invented_end() -> None:
    policy = HoldingFailOn(PASS, "on_block_complete", "Running it.")

    out = await run(HookRunner(policy, make_ctx()), CUT_OFF)

    assert not any(isinstance(event, MessageEnd) for event in out)


class LongFailure(Policy[PolicyConfig]):
    """Raises, in `on_request`, an exception whose text is 600 characters long."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        raise Boom("e" * 300 + "f" * 300)


@pytest.mark.asyncio
async def test_a_policy_error_keeps_the_first_500_characters_of_the_exception_text() -> None:
    ctx = make_ctx()
    original = request()

    forwarded = await HookRunner(LongFailure(PASS), ctx).on_request(original)

    assert forwarded is original
    (error,) = policy_errors(ctx)
    assert error["detail"] == "e" * 300 + "f" * 200


@pytest.mark.asyncio
async def test_a_call_has_spans_for_the_request_hook_the_response_and_each_judged_tool_call() -> None:
    policy = ApproveTools(PolicyConfig(), name="approve")
    events: list[CallEvent] = [START, *tool_events(0, CALL_A), MessageEnd(StopReason.TOOL_USE)]

    async def call() -> None:
        runner = HookRunner(policy, make_ctx())
        await runner.on_request(request())
        await run(runner, events)

    spans = {item.name: item for item in await traced(call)}

    assert dict(spans["policy.on_request"].attributes or {}) == {"luthien.policy": "approve"}
    response = spans["policy.response"]
    assert dict(response.attributes or {}) == {"luthien.policy": "approve"}
    judged = spans["policy.on_block_complete"]
    assert dict(judged.attributes or {}) == {
        "luthien.policy": "approve",
        "luthien.block_index": 0,
        "luthien.tool": CALL_A.name,
    }
    assert judged.parent is not None
    assert judged.parent.span_id == response.context.span_id
