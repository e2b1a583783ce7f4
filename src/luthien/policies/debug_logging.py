"""`debug_logging`: logs every request and response event it sees, and changes nothing.

Events are logged at INFO on the `luthien.policy.<name>` logger. Passed-through events keep their
original bytes, so the client receives exactly what upstream sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from luthien.call.events import BlockComplete, BlockDelta, BlockStart, CallEvent, MessageEnd, MessageStart
from luthien.call.request import CallRequest
from luthien.policy.base import Policy, PolicyConfig, PolicyContext


class DebugLoggingPolicy(Policy[PolicyConfig]):
    """Logs each hook's input; returns it unchanged."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        """Log the request's model and shape."""
        ctx.logger.info(
            "%s request model=%s stream=%s turns=%d tools=%d",
            ctx.transaction_id,
            request.model,
            request.stream,
            len(request.conversation),
            len(request.tools),
        )
        return request

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Log and pass."""
        return _logged(event, ctx)

    async def on_block_start(self, event: BlockStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Log and pass."""
        return _logged(event, ctx)

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Log and pass."""
        return _logged(event, ctx)

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Log and pass."""
        return _logged(event, ctx)

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        """Log and pass."""
        return _logged(event, ctx)


def _logged(event: CallEvent, ctx: PolicyContext) -> Sequence[CallEvent]:
    ctx.logger.info("%s %r", ctx.transaction_id, event)
    return [event]
