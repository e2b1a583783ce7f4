"""`ApprovalService`: what the policy, the admin API and the UI call; the store, live events, webhook.

A holder (`request`) makes the approval pending, announces it (`approval.pending` on the live bus,
the webhook if configured) and waits. Deciding (`decide`, from any replica) stores the decision
atomically and announces it (`approval.decided`), which wakes the holder wherever it is. When no one
decides in time the holder denies (`by: timeout`); when the call ends first (the client went away)
the approval is withdrawn, so it leaves every pending list.

```
pending --person decides (any replica)--> decided (approve | deny)
pending --timeout_s passes--> decided (deny, by timeout)
pending --call cancelled--> decided (deny, by withdrawn)
```
"""

from __future__ import annotations

import asyncio
import logging
import time

from luthien.approvals.memory import MemoryApprovals
from luthien.approvals.model import (
    APPROVAL_DECIDED,
    APPROVAL_PENDING,
    HOLDER_DECISIONS,
    LIVE_CATEGORY,
    TIMEOUT_BY,
    UNAVAILABLE_BY,
    WITHDRAWN_BY,
    AlreadyDecided,
    Decision,
    DecisionKind,
    PendingApproval,
)
from luthien.approvals.redis import KEY_SUFFIX, RedisApprovals
from luthien.approvals.store import ApprovalStore
from luthien.approvals.webhook import WebhookSender
from luthien.events.bus import EventBus
from luthien.settings import Settings

logger = logging.getLogger("luthien.approvals")

WITHDRAWN_REASON = "the call ended before anyone decided"


def timeout_reason(timeout_s: float) -> str:
    """The reason of a timeout denial (shown to the agent)."""
    return f"no one approved it within {timeout_s:g} s, so it was denied (fail-secure)"


class ApprovalService:
    """Pending approvals and decisions for one gateway (shared through Redis when configured)."""

    def __init__(self, store: ApprovalStore, bus: EventBus | None) -> None:
        self.store = store
        self.bus = bus
        self.webhook = WebhookSender()
        self._withdrawals: set[asyncio.Task[None]] = set()

    async def request(
        self,
        approval: PendingApproval,
        timeout_s: float,
        webhook_url: str | None = None,
        review_url: str | None = None,
    ) -> Decision:
        """Hold until `approval` is decided or `timeout_s` passes (then: a denial by `timeout`).

        A failing store (Redis down) denies too: a call is never approved without a person.
        """
        try:
            await self.store.add(approval)
        except Exception as error:
            logger.warning("approval %s could not be stored (%s): denied", approval.id, error)
            return Decision(
                DecisionKind.DENY,
                f"the approval could not be stored ({type(error).__name__}), so it was denied (fail-secure)",
                UNAVAILABLE_BY,
                time.time(),
            )
        self._publish(APPROVAL_PENDING, approval.transaction_id, approval.summary())
        if webhook_url is not None:
            self.webhook.notify(webhook_url, approval, review_url)
        try:
            decision = await self.store.wait(approval.id, timeout_s)
        except asyncio.CancelledError:
            self._withdraw(approval)
            raise
        if decision is not None:
            return decision
        timed_out = Decision(DecisionKind.DENY, timeout_reason(timeout_s), TIMEOUT_BY, time.time())
        try:
            await self.decide(approval.id, timed_out)
        except AlreadyDecided as error:
            # Someone decided in the same instant: theirs stands.
            return error.decision or timed_out
        except Exception as error:
            logger.warning("approval %s: the timeout denial could not be stored (%s)", approval.id, error)
        return timed_out

    async def decide(self, approval_id: str, decision: Decision) -> PendingApproval:
        """Decide a pending approval and announce it.

        Raises:
            UnknownApproval: no such approval (404).
            AlreadyDecided: decided already, or expired (409).
        """
        if decision.by not in HOLDER_DECISIONS:
            pending = await self.store.get(approval_id)
            if pending is not None and pending.expires_at <= time.time():
                raise AlreadyDecided(approval_id, None)
        approval = await self.store.decide(approval_id, decision)
        self._publish(APPROVAL_DECIDED, approval.transaction_id, {"id": approval_id, **decision.to_json()})
        return approval

    async def pending(self) -> list[PendingApproval]:
        """Every pending approval, oldest first."""
        return await self.store.pending()

    def _withdraw(self, approval: PendingApproval) -> None:
        withdrawn = Decision(DecisionKind.DENY, WITHDRAWN_REASON, WITHDRAWN_BY, time.time())

        async def run() -> None:
            try:
                await self.decide(approval.id, withdrawn)
            except Exception as error:
                logger.info("approval %s was not withdrawn: %s", approval.id, type(error).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._withdrawals.add(task)
        task.add_done_callback(self._withdrawals.discard)

    def _publish(self, type: str, transaction_id: str, data: dict[str, object]) -> None:
        if self.bus is not None:
            self.bus.publish(type, transaction_id, {**data, "event_types": [LIVE_CATEGORY]})

    async def close(self) -> None:
        """Finish withdrawals and webhook POSTs in flight, then release the store."""
        if self._withdrawals:
            await asyncio.wait(set(self._withdrawals))
        await self.webhook.close()
        await self.store.close()


def open_approvals(settings: Settings, bus: EventBus | None) -> ApprovalService:
    """Redis-backed approvals when `LUTHIEN_REDIS_URL` is set (every replica), else in-process."""
    if settings.redis_url is not None:
        store: ApprovalStore = RedisApprovals(
            settings.redis_url.get_secret_value(), settings.events_stream_key + KEY_SUFFIX
        )
    else:
        store = MemoryApprovals()
    return ApprovalService(store, bus)
