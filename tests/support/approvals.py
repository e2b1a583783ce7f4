"""Helpers for tests of human approval: approvals to store, and pending ones waited for and decided.

`approval` and `approve` build a pending approval and a decision for the stores; the rest wait for a
pending approval through the admin API, decide it, and configure `human_approval`.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from luthien.approvals.model import Decision, DecisionKind, JudgeVerdict, PendingApproval, new_approval_id
from luthien.config import LuthienConfig

GUARD_S = 30.0
"""Deadlock guard; never reached when the code under test works."""
POLL_S = 0.02
ADMIN_KEY = "approvals-admin-key"
AUTH = {"authorization": f"Bearer {ADMIN_KEY}"}


def approval_config(timeout_s: float = GUARD_S * 3, **extra: Any) -> LuthienConfig:
    """`human_approval` as the active policy (named `approve`)."""
    return LuthienConfig.model_validate(
        {
            "policies": {"approve": {"class": "human_approval", "config": {"timeout_s": timeout_s, **extra}}},
            "policy": "approve",
        }
    )


def pending(base_url: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """`GET /api/approvals`'s items."""
    response = httpx.get(f"{base_url}/api/approvals", headers=headers if headers is not None else AUTH)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def wait_pending(
    base_url: str, count: int = 1, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The pending approvals once there are `count` of them."""
    deadline = time.monotonic() + GUARD_S
    while True:
        items = pending(base_url, headers)
        if len(items) >= count:
            return items
        assert time.monotonic() < deadline, "no approval became pending"
        time.sleep(POLL_S)


def decide(
    base_url: str, approval_id: str, decision: str, reason: str = "", headers: dict[str, str] | None = None
) -> httpx.Response:
    """`POST /api/approvals/{id}`."""
    return httpx.post(
        f"{base_url}/api/approvals/{approval_id}",
        json={"decision": decision, "reason": reason},
        headers=headers if headers is not None else AUTH,
    )


def approval(expires_in: float = 60.0, created: float | None = None) -> PendingApproval:
    """A Bash call waiting for a person, created `created` (default: now), expiring `expires_in` s later."""
    now = time.time() if created is None else created
    return PendingApproval(
        id=new_approval_id(),
        transaction_id="tx-1",
        session_id="s-1",
        policy="approve",
        tool="Bash",
        tool_call_id="toolu_1",
        arguments='{"command": "ls"}',
        created_at=now,
        expires_at=now + expires_in,
        context=({"role": "user", "text": "[user] hi"},),
        verdict=JudgeVerdict(0.4, "unsure", 0.5, 0.3),
    )


def approve(by: str = "admin-key") -> Decision:
    """An approval by `by`, now."""
    return Decision(DecisionKind.APPROVE, "ok", by, time.time())
