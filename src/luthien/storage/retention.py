"""Retention: deleting records older than `LUTHIEN_RETENTION_DAYS`, and the content only they used.

Old transactions (with their events and bodies) are deleted in small batches, each in its own
database transaction, so the writer is never locked out for long. Chunks are shared between records,
so a chunk is deleted only when no kept record can use it: every write stamps the chunks it uses with
the day (`chunks.used_day`), so a chunk whose stamp is older than the oldest kept record's day (less a
day for clock skew between replicas) is used by no kept record. The writer only trusts its cache for
chunks stamped today, which this never deletes, and upserts the others, stamping them (see
`luthien.storage.chunk_store`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.storage.chunk_store import SECONDS_PER_DAY
from luthien.storage.engine import writer_engine
from luthien.storage.schema import bodies, chunks, events, shadows, transactions

logger = logging.getLogger(__name__)

# Rows deleted per database transaction.
PURGE_BATCH_ROWS = 1000
# How often the background task purges.
PURGE_INTERVAL_S = 3600.0
# Stamps may come from replicas whose clocks differ: keep chunks a day longer than their records.
CLOCK_SKEW_DAYS = 1


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What one purge deleted."""

    transactions: int
    chunks: int


async def purge(engine: AsyncEngine, older_than: float) -> PurgeResult:
    """Delete transactions received before `older_than` (epoch seconds) and chunks no kept record uses."""
    deleted_transactions = 0
    while True:
        async with writer_engine(engine).begin() as conn:
            pks = list(
                (
                    await conn.execute(
                        select(transactions.c.pk)
                        .where(transactions.c.received_at < older_than)
                        .limit(PURGE_BATCH_ROWS)
                    )
                ).scalars()
            )
            if not pks:
                break
            await conn.execute(delete(events).where(events.c.transaction_pk.in_(pks)))
            await conn.execute(delete(bodies).where(bodies.c.transaction_pk.in_(pks)))
            await conn.execute(delete(shadows).where(shadows.c.transaction_pk.in_(pks)))
            await conn.execute(delete(transactions).where(transactions.c.pk.in_(pks)))
        deleted_transactions += len(pks)
    unused_before = int(older_than // SECONDS_PER_DAY) - CLOCK_SKEW_DAYS
    deleted_chunks = 0
    while True:
        async with writer_engine(engine).begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(chunks.c.id).where(chunks.c.used_day < unused_before).limit(PURGE_BATCH_ROWS)
                    )
                ).scalars()
            )
            if not ids:
                break
            # The stamp is checked again: a writer may have used the chunk since the select.
            await conn.execute(delete(chunks).where(chunks.c.id.in_(ids), chunks.c.used_day < unused_before))
        deleted_chunks += len(ids)
    return PurgeResult(transactions=deleted_transactions, chunks=deleted_chunks)


class RetentionTask:
    """Purges records older than `days` every `interval_s` in the background."""

    def __init__(self, engine: AsyncEngine, days: int, interval_s: float = PURGE_INTERVAL_S) -> None:
        self._engine = engine
        self._days = days
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start purging now and then every interval (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="luthien-retention")

    async def close(self) -> None:
        """Stop the background task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def purge_now(self) -> PurgeResult:
        """Purge once, now."""
        result = await purge(self._engine, time.time() - self._days * SECONDS_PER_DAY)
        if result.transactions or result.chunks:
            logger.info(
                "retention: deleted %d transaction(s) and %d chunk(s) older than %d day(s)",
                result.transactions,
                result.chunks,
                self._days,
            )
        return result

    async def _run(self) -> None:
        while True:
            try:
                await self.purge_now()
            except Exception:  # a failed purge is retried at the next interval
                logger.exception("retention: purge failed; retrying in %.0f s", self._interval_s)
            await asyncio.sleep(self._interval_s)
