"""Replays started from the server (`POST /api/replays`, the `/ui/replays` form), run in the background.

A run is created in the database before `start` returns, so its id can be answered at once and its
progress read by any replica; the replay itself is a task of this process, using the server's
policy instances and its judge upstreams (`ModelCaller`, through the same circuit breakers as
live calls). Runs still going when the server stops are cancelled and stored as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from luthien.gateway.selection import PolicySelector
from luthien.policy.base import Policy
from luthien.records.query import InvalidQuery, RecordStore
from luthien.replay.run import ReplaySpec, run_replay
from luthien.replay.store import SqlReplayStore, new_run_id
from luthien.upstream.caller import ModelCaller

logger = logging.getLogger(__name__)


class RecordingOff(Exception):
    """Replays need the records database (`LUTHIEN_RECORDS=off` has none)."""


class ReplayService:
    """Starts replay runs and keeps their tasks until they end."""

    def __init__(
        self,
        replays: SqlReplayStore | None,
        records: RecordStore | None,
        policies: PolicySelector,
        models: ModelCaller | None,
    ) -> None:
        self.replays = replays
        self.records = records
        self.policies = policies
        self.models = models
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def policy_names(self) -> list[str]:
        """The configured policies a run may use."""
        return sorted(self.policies.policies)

    def store(self) -> SqlReplayStore:
        """The replay store.

        Raises:
            RecordingOff: recording is off.
        """
        return self._stores()[0]

    def _stores(self) -> tuple[SqlReplayStore, RecordStore]:
        if self.replays is None or self.records is None:
            raise RecordingOff
        return self.replays, self.records

    def _policy(self, name: str) -> Policy[Any]:
        policy = self.policies.policies.get(name)
        if policy is None:
            known = ", ".join(self.policy_names())
            raise InvalidQuery("policy", f"policy: unknown policy {name!r} (configured: {known})")
        return policy

    async def start(self, spec: ReplaySpec) -> str:
        """Create the run and start replaying in the background; its id.

        Raises:
            InvalidQuery: the policy is not configured (field `policy`).
            RecordingOff: recording is off.
        """
        replays, records = self._stores()
        policy = self._policy(spec.policy)
        run_id = new_run_id()
        total = await replays.count(spec.filter, spec.limit)
        await replays.create_run(run_id, spec.policy, spec.described(), total)
        task = asyncio.get_running_loop().create_task(
            self._run(spec, policy, run_id, replays, records), name=f"luthien-replay-{run_id}"
        )
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))
        return run_id

    async def _run(
        self,
        spec: ReplaySpec,
        policy: Policy[Any],
        run_id: str,
        replays: SqlReplayStore,
        records: RecordStore,
    ) -> None:
        try:
            await run_replay(spec, policy, records, replays, self.models, run_id=run_id)
        except Exception:  # stored as the run's error by run_replay; the server goes on
            logger.exception("replay %s failed", run_id)

    async def wait(self) -> None:
        """Wait for every run of this process to end."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """On the way out, cancel the runs still going (each is stored as failed)."""
        try:
            yield
        finally:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
