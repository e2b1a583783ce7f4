"""The record writer: the request path hands records over and never waits for the database.

`submit` appends to a bounded in-memory queue and returns; when the queue is full the record is
dropped, counted, and a warning is logged (at most every `DROP_LOG_INTERVAL_S`). One background task
lets records gather for `BATCH_LINGER_S` (unless a full batch is waiting), takes whatever is queued
(up to `BATCH_MAX_RECORDS`), prepares it in a worker thread (`luthien.storage.prepare`) and inserts
it in one database transaction. When the database is down or
locked, the batch is retried with capped exponential backoff while calls keep queueing up to the
bound; the backlog is written when the database returns. A record the database rejects as invalid is
dropped alone (counted as `failed`), never blocking the others. `close` drains the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.records.model import TransactionRecord
from luthien.storage.bulk import BulkInsert
from luthien.storage.chunk_store import ChunkCache, NewChunks, store_chunks, today
from luthien.storage.content import Codec, encode_manifest
from luthien.storage.engine import writer_engine
from luthien.storage.prepare import PreparedRecord, Preparer
from luthien.storage.schema import bodies, events, shadows, transactions

logger = logging.getLogger(__name__)

_TRANSACTIONS = BulkInsert(
    transactions,
    [column.name for column in transactions.c if column.name != "pk"],
    skip_conflicts_on="transaction_id",
    returning=["pk", "transaction_id"],
)
_BODIES = BulkInsert(bodies, ["transaction_pk", "kind", "size", "manifest"])
_EVENTS = BulkInsert(events, ["transaction_pk", "seq", "type", "policy", "timestamp", "data"])
_SHADOWS = BulkInsert(shadows, ["transaction_pk", "seq", "name", "outcome", "error", "events"])

BATCH_MAX_RECORDS = 200
BATCH_LINGER_S = 0.05
"""How long the writer lets records gather before writing a batch smaller than `BATCH_MAX_RECORDS`.

A database transaction per call costs the event loop more than the call itself (measured with
bench/records_overhead.py: one connection's calls paid +0.35 ms p50 on SQLite, +1.2 ms on PostgreSQL);
gathered, a trickle of calls is written in batches too. Records reach the database this much later.
"""
RETRY_INITIAL_S = 0.05
RETRY_MAX_S = 5.0
DROP_LOG_INTERVAL_S = 10.0
# How long `close` waits for the backlog to be written before dropping what is left.
DRAIN_TIMEOUT_S = 30.0
# Failures worth retrying: the database is unreachable, restarting, locked or busy.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    OSError,
    TimeoutError,
)


# PostgreSQL error classes that mean "not now": connection exceptions, insufficient resources (too
# many connections), operator intervention (shutting down, starting up), and transaction rollbacks
# (serialization failures, deadlocks).
TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40")


def is_transient(error: BaseException) -> bool:
    """Whether `error` means the database is unavailable for now (worth retrying)."""
    if isinstance(error, TRANSIENT_ERRORS):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(TRANSIENT_SQLSTATE_PREFIXES):
        return True
    return error.connection_invalidated


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters for metrics.

    Attributes:
        queued: records accepted and not yet written (waiting, or in the batch being written).
        written: records stored.
        dropped: records not stored because the queue was full (or still queued when `close` gave up).
        failed: records the database rejected as invalid.
        retries: write attempts that failed and were retried (database down or locked).
        batches: database transactions that stored records.
    """

    queued: int
    written: int
    dropped: int
    failed: int
    retries: int
    batches: int


class RecordWriter:
    """Implements `RecordSink`: non-blocking `submit`, batched background inserts.

    `submit` must be called from the event loop's thread (the gateway's).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        queue_size: int,
        batch_size: int = BATCH_MAX_RECORDS,
        linger_s: float = BATCH_LINGER_S,
    ) -> None:
        self._engine = writer_engine(engine)
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._pending: deque[TransactionRecord] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._in_flight = 0
        self._written = 0
        self._dropped = 0
        self._failed = 0
        self._retries = 0
        self._batches = 0
        self._last_drop_log = -DROP_LOG_INTERVAL_S
        self._drops_since_log = 0
        self._cache = ChunkCache()
        self._preparer = Preparer()
        self._codec = Codec()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def stats(self) -> WriterStats:
        """The counters now."""
        return WriterStats(
            queued=len(self._pending) + self._in_flight,
            written=self._written,
            dropped=self._dropped,
            failed=self._failed,
            retries=self._retries,
            batches=self._batches,
        )

    def submit(self, record: TransactionRecord) -> None:
        """Queue `record`; drop it (counted, logged) when the queue is full or the writer closed."""
        if self._closing or len(self._pending) >= self._queue_size:
            self._drop(1, "the record queue is full" if not self._closing else "the writer is closed")
            return
        self._pending.append(record)
        self._idle.clear()
        self._wakeup.set()

    def _drop(self, count: int, reason: str) -> None:
        self._dropped += count
        self._drops_since_log += count
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            logger.warning(
                "dropped %d record(s) (%s; %d dropped in total, queue size %d: LUTHIEN_RECORD_QUEUE_SIZE)",
                self._drops_since_log,
                reason,
                self._dropped,
                self._queue_size,
            )
            self._last_drop_log = now
            self._drops_since_log = 0

    def start(self) -> None:
        """Start the background task (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="luthien-record-writer")

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (or dropped)."""
        await self._idle.wait()

    async def close(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Stop accepting records and write the backlog; after `timeout_s`, drop what is left."""
        self._closing = True
        self._wakeup.set()
        task = self._task
        if task is None:
            self._abandon_backlog()
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._abandon_backlog()

    def _abandon_backlog(self) -> None:
        left = len(self._pending) + self._in_flight
        self._pending.clear()
        self._in_flight = 0
        if left:
            self._last_drop_log = -DROP_LOG_INTERVAL_S
            self._drop(left, "the database was unavailable at shutdown")
        self._idle.set()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if len(self._pending) < self._batch_size and not self._closing:
                await asyncio.sleep(self._linger_s)
            count = min(self._batch_size, len(self._pending))
            batch = [self._pending.popleft() for _ in range(count)]
            self._in_flight = count
            try:
                await self._write_batch(batch)
            except asyncio.CancelledError:
                # Cancelled by `close` after its timeout: the batch counts as part of the backlog.
                self._pending.extendleft(reversed(batch))
                raise
            except Exception:  # never let the writer die: log, count, and carry on
                logger.exception("record writer: unexpected failure; %d record(s) lost", count)
                self._failed += count
            finally:
                self._in_flight = 0

    async def _write_batch(self, batch: list[TransactionRecord]) -> None:
        prepared = await asyncio.to_thread(self._preparer.prepare_batch, batch, self._cache, today())
        for record, error in prepared.rejected:
            self._reject(record, error)
        try:
            self._written += await self._insert_retrying(prepared.records, prepared.compressed)
            return
        except Exception as error:
            logger.warning(
                "record writer: a batch was rejected (%s); writing one by one", type(error).__name__
            )
        for item in prepared.records:
            try:
                self._written += await self._insert_retrying([item], prepared.compressed)
            except Exception as error:
                self._reject(item.record, error)

    def _reject(self, record: TransactionRecord, error: Exception) -> None:
        self._failed += 1
        logger.error(
            "record writer: transaction %s cannot be stored (%s: %s); dropped",
            record.transaction_id,
            type(error).__name__,
            error,
        )

    async def _insert_retrying(
        self, prepared: Sequence[PreparedRecord], compressed: Mapping[bytes, bytes]
    ) -> int:
        """`_insert`, retried with backoff while the database is unavailable; other errors raise."""
        delay = RETRY_INITIAL_S
        outage_logged = False
        while True:
            try:
                written = await self._insert(prepared, compressed, today())
            except Exception as error:
                if not is_transient(error):
                    raise
                self._retries += 1
                if not outage_logged:
                    logger.warning("record writer: database unavailable (%s); retrying", type(error).__name__)
                    outage_logged = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if outage_logged:
                logger.info("record writer: the database is back; writing the backlog")
            return written

    async def _insert(
        self, prepared: Sequence[PreparedRecord], compressed: Mapping[bytes, bytes], day: int
    ) -> int:
        """Insert records in one transaction; returns how many were new."""
        pieces: dict[bytes, memoryview] = {}
        for item in prepared:
            pieces.update(item.pieces)
        async with self._engine.begin() as conn:
            chunk_ids = await store_chunks(conn, NewChunks(pieces, compressed, self._codec), self._cache, day)
            returned = await _TRANSACTIONS.run(conn, [item.row for item in prepared])
            inserted: dict[str, int] = {row.transaction_id: row.pk for row in returned}
            written = len(inserted)
            body_rows: list[dict[str, Any]] = []
            event_batch: list[dict[str, Any]] = []
            shadow_batch: list[dict[str, Any]] = []
            for item in prepared:
                # Popped: a record submitted twice within the batch gets its rows once.
                pk = inserted.pop(item.row["transaction_id"], None)
                if pk is None:  # already stored (submitted twice)
                    continue
                for kind, split in item.bodies:
                    manifest = encode_manifest([chunk_ids[digest] for digest in split.digests])
                    body_rows.append(
                        {"transaction_pk": pk, "kind": kind, "size": split.size, "manifest": manifest}
                    )
                event_batch.extend({**event, "transaction_pk": pk} for event in item.events)
                shadow_batch.extend({**shadow, "transaction_pk": pk} for shadow in item.shadows)
            await _SHADOWS.run(conn, shadow_batch)
            await _BODIES.run(conn, body_rows)
            await _EVENTS.run(conn, event_batch)
        self._cache.remember(chunk_ids, day)
        self._batches += 1
        return written
