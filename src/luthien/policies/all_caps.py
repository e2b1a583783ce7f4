"""`all_caps`: upper-cases the text the model writes, as it streams (a demonstration policy)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from luthien.call.events import BlockDelta, BlockKind, CallEvent
from luthien.policy.base import Policy, PolicyConfig, PolicyContext


class AllCapsPolicy(Policy[PolicyConfig]):
    """Upper-cases every text delta; thinking and tool calls pass unchanged."""

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Upper-case text deltas."""
        if event.kind is BlockKind.TEXT and event.text:
            return [dataclasses.replace(event, text=event.text.upper())]
        return [event]
