"""`ApprovalStore`: where pending approvals and decisions are kept (this process, or Redis).

A decision is made once: `decide` is atomic, and the first decision (a person's, or the holder's
timeout denial) wins; later ones raise `AlreadyDecided` carrying the winner. `wait` is how the replica
holding the call learns of a decision made anywhere.
"""

from __future__ import annotations

from typing import Protocol

from luthien.approvals.model import Decision, PendingApproval


class ApprovalStore(Protocol):
    """Pending approvals and their decisions."""

    @property
    def shared(self) -> bool:
        """Whether other replicas see the same approvals (Redis)."""
        ...

    async def add(self, approval: PendingApproval) -> None:
        """Make `approval` pending."""
        ...

    async def pending(self) -> list[PendingApproval]:
        """Every approval waiting for a decision, oldest first."""
        ...

    async def get(self, approval_id: str) -> PendingApproval | None:
        """A pending approval, or None."""
        ...

    async def decided(self, approval_id: str) -> Decision | None:
        """The decision of a recently decided approval, or None."""
        ...

    async def decide(self, approval_id: str, decision: Decision) -> PendingApproval:
        """Decide a pending approval (atomically: the first decision wins).

        Returns:
            The approval that was decided.

        Raises:
            UnknownApproval: no such approval is pending or was decided recently.
            AlreadyDecided: it was decided already (carrying that decision).
        """
        ...

    async def wait(self, approval_id: str, timeout_s: float) -> Decision | None:
        """The decision, as soon as one is made; None when `timeout_s` passes without one."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
