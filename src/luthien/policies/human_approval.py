"""`human_approval`: every tool call waits until a person approves or denies it.

The call is held (text before it streams at once; the client's stream gets keep-alives while it
waits), appears at `/ui/approvals`, in `GET /api/approvals`, in `luthien approvals` and, when
`approval_webhook_url` is set, is POSTed there. An approval sends the call on unchanged; a denial
replaces it with a blocked message carrying the person's reason. No decision within `timeout_s`
denies (fail-secure), and so does a gateway without an approvals service. `tool_call_judge` uses the
same wait for its uncertain band (`escalate_at`), with the judge's verdict attached.

Every request and decision is recorded in the call's activity (`approval.requested`,
`approval.decided` with `decision`, `reason`, `by`, `waited_ms`).

```yaml
policies:
  approve:
    class: human_approval
    config:
      timeout_s: 300
      approval_webhook_url: https://hooks.slack.com/services/T000/B000/XXXX
      review_url: https://luthien.example.com/ui/approvals
```
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import ClassVar

from pydantic import AnyHttpUrl, Field, model_validator

from luthien.approvals.model import (
    DECIDED_ACTIVITY,
    HOLDER_DECISIONS,
    REQUESTED_ACTIVITY,
    DecisionKind,
    JudgeVerdict,
    PendingApproval,
    new_approval_id,
)
from luthien.call.events import BlockComplete, BlockKind, CallEvent, ToolCall
from luthien.policies.judging import CONTEXT_TEXT_CHARS, DECISION_ARGUMENT_CHARS, render_context
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.helpers import send_blocked_message

DEFAULT_TIMEOUT_S = 300.0
"""Below Claude Code's 600 s client timeout, so the agent hears the denial."""
DEFAULT_CONTEXT_MESSAGES = 6
PENDING_ARGUMENT_CHARS = 20_000
"""Characters of a tool call's arguments shown to the reviewer (the record keeps them all)."""
NO_SERVICE_REASON = "no approvals service is available here, so it was denied (fail-secure)"


class ApprovalSettings(PolicyConfig):
    """How long to wait for a person, and whom to tell."""

    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    approval_webhook_url: AnyHttpUrl | None = None
    review_url: AnyHttpUrl | None = None
    """Where reviewers decide (the `/ui/approvals` page as users reach it), linked from the webhook."""
    context_messages: int = Field(default=DEFAULT_CONTEXT_MESSAGES, ge=0)


class EscalationSettings(PolicyConfig):
    """`tool_call_judge`'s uncertain band: `escalate_at <= p < threshold` goes to a person."""

    escalate_at: float | None = Field(default=None, ge=0.0, le=1.0)
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)

    @model_validator(mode="after")
    def _below_threshold(self) -> EscalationSettings:
        threshold = getattr(self, "threshold", None)
        if self.escalate_at is not None and isinstance(threshold, float) and self.escalate_at >= threshold:
            raise ValueError(f"escalate_at ({self.escalate_at}) must be below threshold ({threshold})")
        return self


def _context(ctx: PolicyContext, count: int) -> tuple[dict[str, str], ...]:
    """The recent conversation for the reviewer: each message's text, tool calls and results (cut)."""
    turns = ctx.request.conversation[-count:] if ctx.request is not None and count else []
    context: list[dict[str, str]] = []
    for turn in turns:
        text = render_context([turn]).removeprefix(f"[{turn.role}] ")
        context.append({"role": turn.role, "text": text[: CONTEXT_TEXT_CHARS * 2]})
    return tuple(context)


async def ask_human(
    event: BlockComplete,
    call: ToolCall,
    ctx: PolicyContext,
    settings: ApprovalSettings,
    verdict: JudgeVerdict | None = None,
) -> Sequence[CallEvent]:
    """Hold `call` until a person decides: the call itself when approved, else a blocked message."""
    service = ctx.approvals
    if service is None:
        ctx.record(
            DECIDED_ACTIVITY,
            tool=call.name,
            tool_call_id=call.id,
            decision="deny",
            reason=NO_SERVICE_REASON,
            by="none",
            waited_ms=0.0,
        )
        return send_blocked_message(call, f"Denied: {NO_SERVICE_REASON}.", ctx)
    now = time.time()
    approval = PendingApproval(
        id=new_approval_id(),
        transaction_id=ctx.transaction_id,
        session_id=ctx.session_id,
        policy=ctx.policy_name,
        tool=call.name,
        tool_call_id=call.id or f"call_{uuid.uuid4().hex[:12]}",
        arguments=call.arguments[:PENDING_ARGUMENT_CHARS],
        created_at=now,
        expires_at=now + settings.timeout_s,
        context=_context(ctx, settings.context_messages),
        verdict=verdict,
    )
    ctx.record(
        REQUESTED_ACTIVITY,
        approval_id=approval.id,
        tool=call.name,
        tool_call_id=call.id,
        arguments=call.arguments[:DECISION_ARGUMENT_CHARS],
        probability=None if verdict is None else verdict.probability,
        timeout_s=settings.timeout_s,
    )
    started = time.monotonic()
    webhook = None if settings.approval_webhook_url is None else str(settings.approval_webhook_url)
    review = None if settings.review_url is None else str(settings.review_url)
    decision = await service.request(approval, settings.timeout_s, webhook, review)
    approved = decision.decision is DecisionKind.APPROVE
    ctx.record(
        DECIDED_ACTIVITY,
        approval_id=approval.id,
        tool=call.name,
        tool_call_id=call.id,
        decision=decision.decision.value,
        reason=decision.reason,
        by=decision.by,
        blocked=not approved,
        waited_ms=round((time.monotonic() - started) * 1000, 1),
    )
    if approved:
        return [event]
    reason = decision.reason.strip() or "no reason given"
    if decision.by in HOLDER_DECISIONS:
        return send_blocked_message(call, f"Not approved: {reason}.", ctx)
    return send_blocked_message(call, f"Denied by a reviewer ({decision.by}): {reason}", ctx)


class HumanApprovalConfig(ApprovalSettings):
    """`timeout_s`, `approval_webhook_url`, `review_url`, `context_messages`."""


class HumanApprovalPolicy(Policy[HumanApprovalConfig]):
    """Holds every tool call until a person decides."""

    config_model = HumanApprovalConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset({BlockKind.TOOL_CALL})

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Wait for the decision on a held tool call."""
        call = event.block.tool_call
        if call is None:
            return [event]
        return await ask_human(event, call, ctx, self.config)
