"""`defer_to_trusted`: when the monitor flags a tool call, a trusted model answers the turn instead.

The monitor is the tool-call judge (`policies/judging.py`). Tool calls are held and judged as they
complete, while text streams on. When none is rated at or above `threshold`, the turn goes out as the
untrusted model wrote it. When one is, the trusted model (`trusted: {upstream, model}`) is asked the
same request (as this policy passed it on, not streaming) the moment the first flagged call is
judged, and the untrusted model's turn is replaced: the text it already streamed stays, followed by
`marker` and the trusted model's text and tool calls, with the trusted model's stop reason. None of
the untrusted model's tool calls is sent, so the agent goes on with the trusted model's action
instead of stopping.

Until the message end, every untrusted tool call is held back (a passed one may still have to give
way to the trusted answer), so passed calls are sent re-serialized rather than as their original
bytes.

Fail-secure: a call the judge could not rate (error, timeout, malformed verdict) is blocked, as in
`tool_call_judge`; a trusted model that errors, times out, answers unreadably or speaks another API
than the call (translation between APIs does not exist yet) leaves the flagged calls blocked
(`send_blocked_message`), never passed. Set `client_format` to refuse a trusted upstream of another
API at startup.

Recorded: each verdict (`judge.decision`), and the trusted model's answer (`defer.trusted_answer`,
with its blocks, each cut like the judge's arguments, its stop reason and tokens, or the error); the
untrusted model's own output is the record's original response, and the trusted answer as sent is in
its final response.

```yaml
policies:
  defer:
    class: defer_to_trusted
    config:
      judge: {upstream: anthropic, model: claude-haiku-4-5}
      trusted: {upstream: anthropic, model: claude-sonnet-4-5, timeout_s: 120}
      client_format: anthropic
      threshold: 0.5
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, ClassVar

from pydantic import Field

from luthien.call.events import BlockComplete, BlockKind, CallEvent, MessageEnd, ToolCall
from luthien.config import ConfigError, LuthienConfig
from luthien.policies.judging import (
    DECISION_ARGUMENT_CHARS,
    DEFAULT_BLOCKED_TEMPLATE,
    JudgeSettings,
    JudgeTarget,
    Verdict,
    ask_judge,
    record_decision,
)
from luthien.policies.reask import Answer, ReaskError, describe_blocks, reask, stop_of
from luthien.policies.resample import tool_call_position
from luthien.policies.tool_call_judge import check_judge_upstream, render_blocked
from luthien.policy.base import Policy, PolicyContext
from luthien.policy.helpers import send_blocked_message, send_text
from luthien.wire.formats import WireFormat

DEFAULT_TRUSTED_TIMEOUT_S = 120.0
"""Seconds the trusted model has to write its whole answer (it is not streamed)."""
DEFAULT_MARKER = "\n\n[Luthien: the monitor flagged a tool call; a trusted model answered instead]\n\n"
TRUSTED_ANSWER_EVENT = "defer.trusted_answer"
_STATE_KEY = "defer_to_trusted"


class TrustedTarget(JudgeTarget):
    """The trusted model: an upstream name, a model id, and how long it may take."""

    timeout_s: float = Field(default=DEFAULT_TRUSTED_TIMEOUT_S, gt=0)


class DeferToTrustedConfig(JudgeSettings):
    """The monitor (judge settings), the trusted model, and the marker between the two answers."""

    trusted: TrustedTarget
    client_format: WireFormat | None = None
    marker: str = DEFAULT_MARKER


class _Fate(Enum):
    PASSED = "passed"
    FLAGGED = "flagged"
    JUDGE_FAILED = "judge_failed"


@dataclass(frozen=True, slots=True)
class _Judged:
    event: BlockComplete
    call: ToolCall
    verdict: Verdict
    fate: _Fate


@dataclass
class _Turn:
    """One call's state: its tool calls by position, as judged, and the trusted answer."""

    calls: dict[int, _Judged] = field(default_factory=dict[int, _Judged])
    trusted: asyncio.Future[Answer] | None = None

    def ordered(self) -> list[_Judged]:
        return [self.calls[position] for position in sorted(self.calls)]


class DeferToTrustedPolicy(Policy[DeferToTrustedConfig]):
    """Judges tool calls; a flagged one hands the turn to the trusted model."""

    config_model = DeferToTrustedConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TOOL_CALL})

    def check_config(self, config: LuthienConfig) -> None:
        """The judge's and the trusted model's upstreams must exist; the trusted one speak `client_format`.

        Raises:
            ConfigError: an unknown upstream, or a trusted upstream of another API than `client_format`.
        """
        check_judge_upstream(self.config.judge.upstream, config)
        name = self.config.trusted.upstream
        field_name = f"policies.{self.name}.config.trusted.upstream"
        formats = {f.value: f for f in WireFormat} | {
            key: up.format.dialect for key, up in config.upstreams.items()
        }
        if name not in formats:
            raise ConfigError(f"config.trusted.upstream: unknown upstream {name!r}", field=field_name)
        wanted = self.config.client_format
        if wanted is not None and formats[name] is not wanted:
            raise ConfigError(
                f"config.trusted.upstream: upstream {name!r} speaks the {formats[name].value} API but "
                f"client_format is {wanted.value}; translating between APIs is not supported",
                field=field_name,
            )

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Judge a held tool call; hold it back until the turn is decided (at the message end)."""
        call = event.block.tool_call
        if call is None:
            return [event]
        turn = _turn(ctx)
        position = tool_call_position(ctx)  # before any await: see its docstring
        verdict = await ask_judge(call, ctx, self.config)
        flagged = verdict.probability >= self.config.threshold
        record_decision(ctx, call, verdict, flagged, self.config)
        fate = _Fate.FLAGGED if flagged else _Fate.PASSED
        if verdict.error is not None:
            fate = _Fate.JUDGE_FAILED  # no rating to act on: blocked, as `tool_call_judge` does
        turn.calls[position] = _Judged(event, call, verdict, fate)
        if fate is not _Fate.FLAGGED:
            return []
        if turn.trusted is None:
            # Asked at once, while the untrusted model may still be streaming text.
            turn.trusted = asyncio.ensure_future(self._ask_trusted(ctx))
            turn.trusted.add_done_callback(_retrieve)
        # Waiting here keeps the call `holding`, so the client's stream gets keep-alives meanwhile.
        try:
            await asyncio.wait([turn.trusted])
        except asyncio.CancelledError:
            turn.trusted.cancel()  # the call is over: the trusted model's answer is not wanted
            raise
        return []

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Send the trusted answer in place of the turn's tool calls, or each call's own outcome."""
        turn = _turn(ctx)
        error: ReaskError | None = None
        if turn.trusted is not None:
            try:
                answer = await turn.trusted
            except ReaskError as failure:
                error = failure
            else:
                self._record_answer(ctx, turn, answer, None)
                end = replace(
                    event,
                    stop_reason=answer.end.stop_reason,
                    provider_stop_reason=answer.end.provider_stop_reason,
                )
                return [*send_text(self.config.marker), *answer.events(), end]
            self._record_answer(ctx, turn, None, error)
        out: list[CallEvent] = []
        for judged in turn.ordered():
            out.extend(self._outcome(judged, error, ctx))
        return [*out, event]

    def _outcome(self, judged: _Judged, error: ReaskError | None, ctx: PolicyContext) -> list[CallEvent]:
        """What one untrusted tool call becomes when the trusted model did not answer the turn."""
        call, verdict = judged.call, judged.verdict
        if judged.fate is _Fate.PASSED:
            return [judged.event]
        if judged.fate is _Fate.JUDGE_FAILED or error is None:
            ctx.record_blocked(verdict.explanation, call, probability=verdict.probability)
            return send_text(render_blocked(DEFAULT_BLOCKED_TEMPLATE, call, verdict, self.config.threshold))
        return send_blocked_message(call, _failure_reason(verdict, error, self.config.threshold), ctx)

    async def _ask_trusted(self, ctx: PolicyContext) -> Answer:
        trusted = self.config.trusted
        return await reask(ctx, trusted.upstream, trusted.model, trusted.timeout_s)

    def _record_answer(
        self, ctx: PolicyContext, turn: _Turn, answer: Answer | None, error: ReaskError | None
    ) -> None:
        trusted = self.config.trusted
        data: dict[str, Any] = {
            "upstream": trusted.upstream,
            "model": trusted.model,
            "tool_calls": [
                {"tool": judged.call.name, "tool_call_id": judged.call.id, "judged": judged.fate.value}
                for judged in turn.ordered()
            ],
            "error": None if error is None else error.code,
            "reason": None if error is None else error.reason,
        }
        if answer is not None:
            usage = answer.usage
            response_id = answer.body.get("id")
            data |= {
                "response_id": response_id if isinstance(response_id, str) else None,
                "blocks": describe_blocks(answer.blocks, DECISION_ARGUMENT_CHARS),
                "stop_reason": stop_of(answer.end),
                "latency_ms": round(answer.latency_ms, 1),
                "input_tokens": usage.input_tokens if usage else None,
                "output_tokens": usage.output_tokens if usage else None,
            }
        ctx.record(TRUSTED_ANSWER_EVENT, **data)


def _turn(ctx: PolicyContext) -> _Turn:
    turn = ctx.state.get(_STATE_KEY)
    if not isinstance(turn, _Turn):
        turn = ctx.state[_STATE_KEY] = _Turn()
    return turn


def _retrieve(task: asyncio.Future[Answer]) -> None:
    """Mark a finished trusted call's failure as seen (it is read, or the call ended without it)."""
    if not task.cancelled():
        task.exception()


def _failure_reason(verdict: Verdict, error: ReaskError, threshold: float) -> str:
    explanation = verdict.explanation.strip() or "No explanation given."
    return (
        f"The monitor flagged this call (risk {verdict.probability:.2f}, at or above {threshold:.2f}): "
        f"{explanation} The trusted model could not answer instead ({error.reason}), so the call is "
        "blocked."
    )
