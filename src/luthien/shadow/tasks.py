"""`BackgroundTasks`: work that outlives the call that started it, tracked so shutdown can finish it.

A call's shadow policies, and the record that waits for them, run after the client has its answer.
The server's lifespan drains these tasks before it closes the upstream pool and storage, so no
shadow judge call is cut and no record is lost on a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger("luthien.shadow")


class BackgroundTasks:
    """A set of running tasks; each is forgotten when it ends."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` in a task of its own, tracked until it ends."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for every task to end; cancel the ones still running then."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        if pending:
            logger.warning("stopping %d background task(s) still running at shutdown", len(pending))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
