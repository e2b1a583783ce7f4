"""`defer_to_trusted`: when the monitor flags a tool call, a trusted model answers the turn instead.

The monitor is the tool-call judge (`policies/judging.py`). Tool calls are held and judged as they
complete, while text streams on. When none is rated at or above `threshold`, the turn goes out as the
untrusted model wrote it. When one is, the trusted model (`trusted: {upstream, model}`) is asked the
same request (as this policy passed it on, not streaming) the moment the first flagged call is
judged, and the untrusted model's turn is replaced: the text it already streamed stays, followed by
`marker` and the trusted model's text and tool calls, with the trusted model's stop reason. None of
the untrusted model's tool calls is sent, so the agent goes on with the trusted model's action
instead of stopping.

Fail-secure: a judge that errors or times out flags the call (as in `tool_call_judge`); a trusted
model that errors, times out, answers unreadably or speaks another API than the call (translation
between APIs does not exist yet) leaves the flagged calls blocked (`send_blocked_message`), never
passed. Set `client_format` to refuse a trusted upstream of another API at startup.

Recorded: each verdict (`judge.decision`), and the trusted model's answer (`defer.trusted_answer`,
with its blocks, stop reason, tokens and raw body, or the error); the untrusted model's own output is
the record's original response.

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
from typing import Any, ClassVar

import orjson
from pydantic import Field

from luthien.call.events import BlockComplete, BlockKind, CallEvent, MessageEnd, ToolCall
from luthien.config import ConfigError, LuthienConfig, WireFormat
from luthien.policies.judging import (
    DECISION_ARGUMENT_CHARS,
    JudgeSettings,
    JudgeTarget,
    Verdict,
    ask_judge,
    record_decision,
)
from luthien.policies.reask import Answer, ReaskError, describe_blocks, reask, stop_of
from luthien.policies.tool_call_judge import check_judge_upstream
from luthien.policy.base import Policy, PolicyContext
from luthien.policy.helpers import send_blocked_message, send_text
from luthien.upstream.caller import ModelCallError

DEFAULT_TRUSTED_TIMEOUT_S = 120.0
"""Seconds the trusted model has to write its whole answer (it is not streamed)."""
DEFAULT_MARKER = "\n\n[Luthien: the monitor flagged a tool call; a trusted model answered instead]\n\n"
TRUSTED_ANSWER_EVENT = "defer.trusted_answer"
RECORDED_BODY_BYTES = 200_000
"""Largest trusted answer body kept whole in `defer.trusted_answer` (its blocks are always kept)."""
_STATE_KEY = "defer_to_trusted"


class TrustedTarget(JudgeTarget):
    """The trusted model: an upstream name, a model id, and how long it may take."""

    timeout_s: float = Field(default=DEFAULT_TRUSTED_TIMEOUT_S, gt=0)


class DeferToTrustedConfig(JudgeSettings):
    """The monitor (judge settings), the trusted model, and the marker between the two answers."""

    trusted: TrustedTarget
    client_format: WireFormat | None = None
    marker: str = DEFAULT_MARKER


@dataclass
class _Turn:
    """One call's state: the untrusted tool calls in the order judged, and the trusted answer."""

    passed: list[BlockComplete] = field(default_factory=list[BlockComplete])
    flagged: list[tuple[ToolCall, Verdict]] = field(default_factory=list[tuple[ToolCall, Verdict]])
    trusted: asyncio.Future[Answer] | None = None


class DeferToTrustedPolicy(Policy[DeferToTrustedConfig]):
    """Judges tool calls; a flagged one hands the turn to the trusted model."""

    config_model = DeferToTrustedConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TOOL_CALL})

    def check_config(self, config: LuthienConfig) -> None:
        """The judge's and the trusted model's upstreams must exist and speak the client's API.

        Raises:
            ConfigError: an unknown upstream, or a trusted upstream of another API than `client_format`.
        """
        check_judge_upstream(self.config.judge.upstream, config)
        name = self.config.trusted.upstream
        field_name = f"policies.{self.name}.config.trusted.upstream"
        formats = {f.value: f for f in WireFormat} | {key: up.format for key, up in config.upstreams.items()}
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
        verdict = await ask_judge(call, ctx, self.config)
        flagged = verdict.probability >= self.config.threshold
        record_decision(ctx, call, verdict, flagged, self.config)
        if not flagged:
            turn.passed.append(event)
            return []
        turn.flagged.append((call, verdict))
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
        """Send the untrusted tool calls, or the trusted answer, or the blocked messages."""
        turn = _turn(ctx)
        if turn.trusted is None:
            return [*turn.passed, event]
        try:
            answer = await turn.trusted
        except ReaskError as error:
            self._record_answer(ctx, turn, None, error)
            blocked = [
                send_blocked_message(call, _failure_reason(verdict, error, self.config.threshold), ctx)
                for call, verdict in turn.flagged
            ]
            return [*turn.passed, *(item for events in blocked for item in events), event]
        self._record_answer(ctx, turn, answer, None)
        end = replace(
            event,
            stop_reason=answer.end.stop_reason,
            provider_stop_reason=answer.end.provider_stop_reason,
        )
        return [*send_text(self.config.marker), *answer.events(), end]

    async def _ask_trusted(self, ctx: PolicyContext) -> Answer:
        trusted = self.config.trusted
        if ctx.models is None:
            raise ReaskError("no trusted model is reachable from this context", "no_request")
        try:
            upstream = ctx.models.upstream(trusted.upstream)
        except ModelCallError as error:
            raise ReaskError(error.reason, "call_failed") from error
        return await reask(ctx, upstream, trusted.model, trusted.timeout_s)

    def _record_answer(
        self, ctx: PolicyContext, turn: _Turn, answer: Answer | None, error: ReaskError | None
    ) -> None:
        trusted = self.config.trusted
        data: dict[str, Any] = {
            "upstream": trusted.upstream,
            "model": trusted.model,
            "flagged": [{"tool": call.name, "tool_call_id": call.id} for call, _ in turn.flagged],
            "passed": [
                {"tool": e.block.tool_call.name, "tool_call_id": e.block.tool_call.id}
                for e in turn.passed
                if e.block.tool_call is not None
            ],
            "error": None if error is None else error.code,
            "reason": None if error is None else error.reason,
        }
        if answer is not None:
            usage = answer.usage
            body = orjson.dumps(answer.body)
            data |= {
                "blocks": describe_blocks(answer.blocks, DECISION_ARGUMENT_CHARS),
                "stop_reason": stop_of(answer.end),
                "latency_ms": round(answer.latency_ms, 1),
                "input_tokens": usage.input_tokens if usage else None,
                "output_tokens": usage.output_tokens if usage else None,
                "response": answer.body if len(body) <= RECORDED_BODY_BYTES else None,
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
