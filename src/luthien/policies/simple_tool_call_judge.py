"""`simple_tool_call_judge`: a short, teaching version of `tool_call_judge`, built on SimplePolicy.

Read this file to learn how to write a judge policy. It does what `tool_call_judge` does (same config
and verdict format) in a few lines, because `SimplePolicy` takes care of streaming: the pipeline holds
each tool call until it is complete, hands it to `on_tool_call`, and sends whatever we return.
"""

from __future__ import annotations

from luthien.call.events import ToolCall
from luthien.config import LuthienConfig

# The shared judge plumbing: the config model, the call to the judge model, and the activity record.
from luthien.policies.judging import JudgeSettings, ask_judge, record_decision
from luthien.policies.tool_call_judge import check_judge_upstream
from luthien.policy.base import PolicyContext
from luthien.policy.simple import Blocked, SimplePolicy


class SimpleToolCallJudgePolicy(SimplePolicy[JudgeSettings]):
    """Asks a judge model about every tool call and blocks the risky ones.

    Config (the same as `tool_call_judge`, minus the message template):

    ```yaml
    policies:
      judge:
        class: simple_tool_call_judge
        config:
          judge: {upstream: anthropic, model: claude-haiku-4-5}
          threshold: 0.5
    ```
    """

    # Tells the registry which pydantic model validates this policy's `config:` block.
    config_model = JudgeSettings

    def check_config(self, config: LuthienConfig) -> None:
        """Runs once at startup: refuse a judge upstream that does not exist."""
        check_judge_upstream(self.config.judge.upstream, config)

    # We only override `on_tool_call`, so only tool calls are held: text and thinking stream
    # through untouched. The pipeline runs this method for several tool calls at once.
    async def on_tool_call(self, call: ToolCall, ctx: PolicyContext) -> ToolCall | Blocked | None:
        """Judge one complete tool call."""
        # 1. Ask the judge. `ask_judge` never raises: if the judge errors, times out, or answers
        #    without a valid {"probability", "explanation"} object, it returns probability 1.0 with
        #    the reason, so a broken judge blocks (fail-secure) instead of letting calls through.
        verdict = await ask_judge(call, ctx, self.config)

        # 2. Decide. The threshold comes from the config, validated to be within [0, 1].
        blocked = verdict.probability >= self.config.threshold

        # 3. Record the decision (tool, arguments, verdict, latency) for the activity monitor.
        record_decision(ctx, call, verdict, blocked, self.config)

        # 4. Answer. Returning the call unchanged sends the model's original bytes; returning
        #    Blocked(reason) replaces the call with a readable message. If no tool call is left in
        #    the message, the pipeline turns the stop reason into end_turn so the agent does not
        #    wait for a tool result that will never come.
        if blocked:
            return Blocked(f"{verdict.explanation} (risk {verdict.probability:.2f})")
        return call
