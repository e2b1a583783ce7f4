"""Helpers for tests of human approval: waiting for a pending approval, deciding it, config."""

from __future__ import annotations

import time
from typing import Any

import httpx

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
