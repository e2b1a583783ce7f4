"""`tool_call_judge`: an LLM judge decides, per tool call, whether the agent may run it.

Each tool call is held until judged, while text and thinking stream on without delay. A judgment
starts the moment its tool call completes, so parallel tool calls are judged concurrently. A call
whose probability of harm is at or above `threshold` is replaced by a readable blocked message; when
no tool call remains, the stop reason becomes `end_turn` / `stop` so the agent does not wait for a
tool result. A judge that errors, times out or answers without a valid verdict blocks (fail-secure).
Every decision is recorded as a `judge.decision` activity event, and every block as `policy.blocked`.

```yaml
policies:
  judge:
    class: tool_call_judge
    config:
      judge: {upstream: anthropic, model: claude-haiku-4-5}
      threshold: 0.5
      timeout_s: 30
      context_messages: 6
      resample: 2              # ask the model again (twice at most) before blocking
      escalate_at: 0.3          # optional: 0.3 <= p < 0.5 waits for a person (human_approval)
      approval: {timeout_s: 300}
```

With `resample: N`, a blocked call is first re-requested from the same model up to N times
(`policies/resample.py`); the first candidate the judge passes is sent instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import field_validator

from luthien.approvals.model import JudgeVerdict
from luthien.call.events import BlockComplete, BlockKind, CallEvent, ToolCall
from luthien.config import ConfigError, LuthienConfig
from luthien.policies.human_approval import EscalationSettings, ask_human
from luthien.policies.judging import (
    DEFAULT_BLOCKED_TEMPLATE,
    JudgeSettings,
    Verdict,
    ask_judge,
    record_decision,
)
from luthien.policies.resample import ResampleSettings, resample, tool_call_position
from luthien.policy.base import Policy, PolicyContext
from luthien.policy.helpers import format_arguments, replace_tool_call, send_text
from luthien.wire.formats import WireFormat


class ToolCallJudgeConfig(JudgeSettings, EscalationSettings, ResampleSettings):
    """Judge settings, the blocked-message template, the uncertain band sent to a person, resampling."""

    blocked_message: str = DEFAULT_BLOCKED_TEMPLATE

    @field_validator("blocked_message")
    @classmethod
    def _template_renders(cls, template: str) -> str:
        try:
            template.format(tool="t", explanation="e", probability=0.5, threshold=0.5, arguments="{}")
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as error:
            raise ValueError(f"template does not render: {error!r}") from error
        return template


def render_blocked(template: str, call: ToolCall, verdict: Verdict, threshold: float) -> str:
    """The message that replaces a blocked call."""
    return template.format(
        tool=call.name,
        explanation=verdict.explanation.strip() or "No explanation given.",
        probability=verdict.probability,
        threshold=threshold,
        arguments=format_arguments(call),
    )


def check_judge_upstream(name: str, config: LuthienConfig) -> None:
    """Fail at startup when a judge names an upstream the config lacks.

    Raises:
        ConfigError: the upstream is neither configured nor built in.
    """
    if name not in config.upstreams and name not in {f.value for f in WireFormat}:
        raise ConfigError(f"config.judge.upstream: unknown upstream {name!r}")


class ToolCallJudgePolicy(Policy[ToolCallJudgeConfig]):
    """Holds tool calls, asks the judge, and blocks risky ones."""

    config_model = ToolCallJudgeConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TOOL_CALL})

    def check_config(self, config: LuthienConfig) -> None:
        """The judge's upstream must exist."""
        check_judge_upstream(self.config.judge.upstream, config)

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Judge a held tool call; pass it or replace it by the blocked message."""
        call = event.block.tool_call
        if call is None:
            return [event]
        position = tool_call_position(ctx)  # before any await: see its docstring
        verdict = await ask_judge(call, ctx, self.config)
        blocked = verdict.probability >= self.config.threshold
        record_decision(ctx, call, verdict, blocked, self.config)
        escalate_at = self.config.escalate_at
        if not blocked and escalate_at is not None and verdict.probability >= escalate_at:
            attached = JudgeVerdict(
                verdict.probability, verdict.explanation, self.config.threshold, escalate_at
            )
            return await ask_human(event, call, ctx, self.config.approval, attached)
        if not blocked:
            return [event]
        if self.config.resample:
            candidate = await resample(call, position, ctx, self.config, self.config)
            if candidate is not None:
                return replace_tool_call(event, candidate)
        ctx.record_blocked(verdict.explanation, call, probability=verdict.probability)
        return send_text(render_blocked(self.config.blocked_message, call, verdict, self.config.threshold))
