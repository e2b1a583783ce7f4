"""Resampling before blocking (`tool_call_judge`'s `resample: N`): ask the same model again.

A tool call the judge blocks is first re-requested from the model that wrote it: the call's own
request (as the policy passed it on), to the upstream the call is routed to, not streaming, up to
`resample` times, one after the other. Each answer's tool call at the blocked call's position among
the turn's tool calls is the candidate, and is judged like the original (one identical to the
blocked call is not judged again); the first one the judge passes is sent in place of the blocked
call. When none does, the call is blocked as usual. This runs while the call is held, so text keeps
streaming meanwhile (and the stream gets keep-alives).

Fail-secure: a resample that errors or times out, or a judge that errors or times out on a
candidate, ends the resampling and the call is blocked. Each candidate is recorded as a
`judge.resample` activity event (attempt, candidate, verdict, whether it was sent, tokens).
"""

from __future__ import annotations

import time

from pydantic import Field

from luthien.call.events import ToolCall
from luthien.policies.judging import DECISION_ARGUMENT_CHARS, JudgeSettings, Verdict, ask_judge
from luthien.policies.reask import Answer, ReaskError, reask
from luthien.policy.base import PolicyConfig, PolicyContext

DEFAULT_RESAMPLE_TIMEOUT_S = 120.0
"""Seconds one resample (a whole, non-streamed answer of the agent's model) may take."""
MAX_RESAMPLES = 10
"""Most resamples a config may ask for (each costs a whole model call)."""
RESAMPLE_EVENT = "judge.resample"
SAME_AS_BLOCKED = "same_as_blocked"
"""A candidate identical to the blocked call (tool and arguments): blocked without judging it again."""
JUDGE_UNAVAILABLE = frozenset({"timeout", "call_failed"})
"""Judge errors that end the resampling (the judge is away, not the candidate at fault)."""
_POSITION_KEY = "resample.positions"


class ResampleSettings(PolicyConfig):
    """How many times a blocked tool call is re-requested, and how long each try may take."""

    resample: int = Field(default=0, ge=0, le=MAX_RESAMPLES)
    resample_timeout_s: float = Field(default=DEFAULT_RESAMPLE_TIMEOUT_S, gt=0)


def tool_call_position(ctx: PolicyContext) -> int:
    """The position of the tool call whose hook calls this, among the turn's tool calls (0, 1, ...).

    Must be called before the hook's first `await`: held tool calls' hooks start in the order the
    calls completed (their tasks are created in that order and run first-in, first-out).
    """
    position = ctx.state.get(_POSITION_KEY, 0)
    ctx.state[_POSITION_KEY] = position + 1
    return position


async def resample(
    call: ToolCall, position: int, ctx: PolicyContext, judge: JudgeSettings, options: ResampleSettings
) -> ToolCall | None:
    """The first resampled candidate for `call` that the judge passes, or None (block `call`).

    Args:
        call: the blocked call.
        position: its position among the turn's tool calls (`tool_call_position`).
        ctx: the call's context (its request and model caller).
        judge: how candidates are judged.
        options: how many resamples, and their timeout.
    """
    request = ctx.request
    if request is None or ctx.models is None:
        return None
    upstream = ctx.models.routed(request.model, request.format)
    for attempt in range(1, options.resample + 1):
        started = time.monotonic()
        try:
            answer = await reask(ctx, upstream, request.model, options.resample_timeout_s)
        except ReaskError as error:
            _record(ctx, call, attempt, None, None, None, error.code, started)
            return None
        calls = answer.tool_calls
        candidate = calls[position] if position < len(calls) else None
        if candidate is None:
            _record(ctx, call, attempt, answer, None, None, "no_tool_call", started)
            continue
        if _same_call(candidate, call):
            # The same call again (a deterministic model): the judge's answer would be the same.
            _record(ctx, call, attempt, answer, candidate, None, SAME_AS_BLOCKED, started)
            continue
        verdict = await ask_judge(candidate, ctx, judge)
        passed = verdict.probability < judge.threshold
        _record(ctx, call, attempt, answer, candidate, verdict, None, started, sent=passed)
        if passed:
            return candidate
        if verdict.error in JUDGE_UNAVAILABLE:
            return None
    return None


def _same_call(candidate: ToolCall, call: ToolCall) -> bool:
    """Whether two calls are the same tool with the same arguments (as JSON values when both parse)."""
    if candidate.name != call.name:
        return False
    parsed, original = candidate.parsed_arguments, call.parsed_arguments
    if parsed is not None and original is not None:
        return parsed == original
    return candidate.arguments == call.arguments


def _record(
    ctx: PolicyContext,
    call: ToolCall,
    attempt: int,
    answer: Answer | None,
    candidate: ToolCall | None,
    verdict: Verdict | None,
    error: str | None,
    started: float,
    *,
    sent: bool = False,
) -> None:
    usage = answer.usage if answer is not None else None
    ctx.record(
        RESAMPLE_EVENT,
        tool=call.name,
        tool_call_id=call.id,
        attempt=attempt,
        candidate=None
        if candidate is None
        else {
            "tool": candidate.name,
            "tool_call_id": candidate.id,
            "arguments": candidate.arguments[:DECISION_ARGUMENT_CHARS],
        },
        probability=None if verdict is None else verdict.probability,
        explanation=None if verdict is None else verdict.explanation,
        error=error if verdict is None else verdict.error,
        sent=sent,
        latency_ms=round((time.monotonic() - started) * 1000, 1),
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
    )
