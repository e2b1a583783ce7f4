"""`MemoryApprovals`: approvals kept in this process (the default, one replica).

Decided approvals are remembered (the most recent `DECIDED_KEPT`) so a late second decision gets a
409 rather than a 404.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from luthien.approvals.model import AlreadyDecided, Decision, PendingApproval, UnknownApproval

DECIDED_KEPT = 1_000
"""Decisions remembered for answering a repeated decision with 409."""


class MemoryApprovals:
    """Pending approvals in a dict; a waiter's future per approval."""

    shared = False

    def __init__(self) -> None:
        self._pending: dict[str, PendingApproval] = {}
        self._decided: OrderedDict[str, Decision] = OrderedDict()
        self._waiters: dict[str, asyncio.Future[Decision]] = {}

    async def add(self, approval: PendingApproval) -> None:
        """See `ApprovalStore.add`."""
        self._pending[approval.id] = approval

    async def pending(self) -> list[PendingApproval]:
        """See `ApprovalStore.pending`."""
        return sorted(self._pending.values(), key=lambda approval: approval.created_at)

    async def get(self, approval_id: str) -> PendingApproval | None:
        """See `ApprovalStore.get`."""
        return self._pending.get(approval_id)

    async def decided(self, approval_id: str) -> Decision | None:
        """See `ApprovalStore.decided`."""
        return self._decided.get(approval_id)

    async def decide(self, approval_id: str, decision: Decision) -> PendingApproval:
        """See `ApprovalStore.decide`."""
        earlier = self._decided.get(approval_id)
        if earlier is not None:
            raise AlreadyDecided(approval_id, earlier)
        approval = self._pending.pop(approval_id, None)
        if approval is None:
            raise UnknownApproval(approval_id)
        self._decided[approval_id] = decision
        while len(self._decided) > DECIDED_KEPT:
            self._decided.popitem(last=False)
        waiter = self._waiters.pop(approval_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(decision)
        return approval

    async def wait(self, approval_id: str, timeout_s: float) -> Decision | None:
        """See `ApprovalStore.wait`."""
        earlier = self._decided.get(approval_id)
        if earlier is not None:
            return earlier
        waiter = self._waiters.setdefault(approval_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
        except TimeoutError:
            return None
        finally:
            if not waiter.done():
                self._waiters.pop(approval_id, None)

    async def close(self) -> None:
        """Nothing to release."""
