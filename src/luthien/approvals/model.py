"""What an approval is: a held tool call waiting for a person, and the decision that ends the wait.

`PendingApproval` and `Decision` travel as JSON (the admin API, the live bus, Redis), so each has
`to_json` and `from_json`. The errors are what deciding can run into: an id nobody holds
(`UnknownApproval`, 404), or one already decided or past its expiry (`AlreadyDecided`, 409).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

MAX_REASON_CHARS = 2_000
"""Longest decision reason accepted (it is shown to the agent)."""
APPROVAL_PENDING = "approval.pending"
"""Live event: a tool call waits for a person (data: `PendingApproval.summary()`)."""
APPROVAL_DECIDED = "approval.decided"
"""Live event: an approval was decided or timed out (data: `id`, the decision's JSON)."""
LIVE_CATEGORY = "approval"
"""Every approval live event lists this in `event_types`, so `/api/activity/stream?event_type=approval`
streams only them (the badge on every page follows that, not the whole feed)."""
REQUESTED_ACTIVITY = "approval.requested"
"""Activity event of the held call: it waits for a person (the approval's id, tool, verdict)."""
DECIDED_ACTIVITY = "approval.decided"
"""Activity event of the held call: the decision, its reason, who made it and how long it took."""
TIMEOUT_BY = "timeout"
"""`Decision.by` of the denial a holder makes when nobody decided in time."""
WITHDRAWN_BY = "withdrawn"
"""`Decision.by` when the call ended (client gone) before anyone decided."""
UNAVAILABLE_BY = "unavailable"
"""`Decision.by` of the denial when the approval could not be stored (Redis unreachable)."""
HOLDER_DECISIONS = frozenset({TIMEOUT_BY, WITHDRAWN_BY, UNAVAILABLE_BY})
"""`Decision.by` values of denials no person made."""
_ID_BYTES = 9


class DecisionKind(StrEnum):
    """What a person decided."""

    APPROVE = "approve"
    DENY = "deny"


def new_approval_id() -> str:
    """A short random id (`apr_` + 12 URL-safe characters)."""
    return "apr_" + secrets.token_urlsafe(_ID_BYTES)


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    """The judge's verdict that sent the call to a person (escalation by `tool_call_judge`)."""

    probability: float
    explanation: str
    threshold: float
    escalate_at: float


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A tool call held until a person decides.

    Attributes:
        id: the approval's id (`POST /api/approvals/{id}`).
        transaction_id: the held call's transaction.
        session_id: the agent session, when the client said which.
        policy: the policy instance holding the call.
        tool: the tool's name.
        tool_call_id: the tool call's id.
        arguments: the arguments as sent (JSON text, possibly cut for very long calls).
        context: the recent conversation, `{"role", "text"}` items, oldest first.
        verdict: the judge's verdict when a judge escalated the call.
        created_at: seconds since the epoch.
        expires_at: when the holder stops waiting and denies.
    """

    id: str
    transaction_id: str
    session_id: str | None
    policy: str
    tool: str
    tool_call_id: str
    arguments: str
    created_at: float
    expires_at: float
    context: tuple[dict[str, str], ...] = ()
    verdict: JudgeVerdict | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the admin API and the live bus."""
        verdict = self.verdict
        return {
            "id": self.id,
            "transaction_id": self.transaction_id,
            "session_id": self.session_id,
            "policy": self.policy,
            "tool_call": {"id": self.tool_call_id, "name": self.tool, "arguments": self.arguments},
            "context": list(self.context),
            "verdict": None
            if verdict is None
            else {
                "probability": verdict.probability,
                "explanation": verdict.explanation,
                "threshold": verdict.threshold,
                "escalate_at": verdict.escalate_at,
            },
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }

    def summary(self) -> dict[str, Any]:
        """The small fields a live event carries (a monitor fetches the rest from the API)."""
        return {
            "id": self.id,
            "session_id": self.session_id,
            "policy": self.policy,
            "tool_name": self.tool,
            "probability": None if self.verdict is None else self.verdict.probability,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingApproval:
        """Read back `to_json`'s output (from Redis).

        Raises:
            KeyError, TypeError, ValueError: not an approval's JSON.
        """
        call = cast(dict[str, Any], data["tool_call"])
        raw_verdict = data.get("verdict")
        verdict = None
        if isinstance(raw_verdict, dict):
            fields = cast(dict[str, Any], raw_verdict)
            verdict = JudgeVerdict(
                float(fields["probability"]),
                str(fields["explanation"]),
                float(fields["threshold"]),
                float(fields["escalate_at"]),
            )
        context = tuple(
            {"role": str(item["role"]), "text": str(item["text"])}
            for item in cast(list[dict[str, Any]], data.get("context") or [])
        )
        session = data.get("session_id")
        return cls(
            id=str(data["id"]),
            transaction_id=str(data["transaction_id"]),
            session_id=None if session is None else str(session),
            policy=str(data["policy"]),
            tool=str(call["name"]),
            tool_call_id=str(call["id"]),
            arguments=str(call["arguments"]),
            created_at=float(data["created_at"]),
            expires_at=float(data["expires_at"]),
            context=context,
            verdict=verdict,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """How an approval ended.

    Attributes:
        decision: approve or deny.
        reason: the person's reason (shown to the agent on a denial), or why the holder denied.
        by: who decided: `admin-key`, `loopback`, `session:<id>`, or `timeout` / `withdrawn`.
        decided_at: seconds since the epoch.
    """

    decision: DecisionKind
    reason: str
    by: str
    decided_at: float = field(default=0.0)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the admin API, the live bus and Redis."""
        return {
            "decision": self.decision.value,
            "reason": self.reason,
            "by": self.by,
            "decided_at": self.decided_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decision:
        """Read back `to_json`'s output.

        Raises:
            KeyError, ValueError: not a decision's JSON.
        """
        return cls(
            DecisionKind(data["decision"]), str(data["reason"]), str(data["by"]), float(data["decided_at"])
        )


class UnknownApproval(Exception):
    """No approval with this id is pending or was decided recently."""

    def __init__(self, approval_id: str) -> None:
        super().__init__(approval_id)
        self.approval_id = approval_id


class AlreadyDecided(Exception):
    """The approval was decided already, or expired.

    Attributes:
        decision: the decision that ended it (None: it expired and its holder has not denied it yet).
    """

    def __init__(self, approval_id: str, decision: Decision | None) -> None:
        super().__init__(approval_id)
        self.approval_id = approval_id
        self.decision = decision
