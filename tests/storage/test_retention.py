"""Retention: old records and the content only they used are deleted; shared content stays."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.records.model import RecordedEvent, ShadowOutcome, ShadowResult, Timing, TransactionRecord
from luthien.records.query import TransactionFilter
from luthien.storage.chunk_store import SECONDS_PER_DAY
from luthien.storage.engine import DatabaseSettings, create_engine
from luthien.storage.queries import SqlRecordStore
from luthien.storage.retention import RetentionTask, purge
from luthien.storage.schema import bodies, chunks, events, shadows, transactions
from tests.storage.records import make_record, write_records
from tests.support.ports import free_port

pytestmark = pytest.mark.asyncio
DAY = SECONDS_PER_DAY
SHARED = b'{"system":"' + b"a shared system prompt, the same in every request. " * 400 + b'"}'


def _aged(index: int, days_ago: float, body: bytes) -> TransactionRecord:
    received = time.time() - days_ago * DAY
    return make_record(
        index,
        timing=Timing(received_at=received, ended_at=received + 1),
        original_request=body,
        original_response=f"response {index} ".encode() * 300,
        events=(RecordedEvent(type="e", data={}, policy=None, timestamp=received),),
        shadows=(
            ShadowResult("judge", ShadowOutcome.WOULD_CHANGE, final_response=f"shadow {index}".encode()),
        ),
    )


async def _count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def _age_chunks(engine: AsyncEngine, days: int) -> None:
    """Make every chunk look last used `days` ago (as if written then)."""
    async with engine.begin() as conn:
        await conn.execute(update(chunks).values(used_day=chunks.c.used_day - days))


async def test_purge_deletes_old_records_and_only_their_content(engine: AsyncEngine) -> None:
    old_only = b"old content nobody else has. " * 800
    old = [_aged(0, 40, SHARED + old_only), _aged(1, 35, SHARED)]
    await write_records(engine, old)
    await _age_chunks(engine, 40)
    new = [_aged(2, 1, SHARED + b"new"), _aged(3, 0, SHARED)]
    # A new writer (fresh cache) stamps the shared chunks it reuses today.
    await write_records(engine, new)
    chunks_before = await _count(engine, chunks)

    result = await purge(engine, older_than=time.time() - 30 * DAY)

    assert result.transactions == 2
    assert 0 < result.chunks < chunks_before
    store = SqlRecordStore(engine)
    page = await store.list_transactions(TransactionFilter())
    assert [s.transaction_id for s in page.items] == ["tx-00003", "tx-00002"]
    for record in new:
        assert await store.get_transaction(record.transaction_id) == record
    assert await _count(engine, events) == 2
    assert await _count(engine, shadows) == 2
    assert await _count(engine, bodies) == 6  # request, response and a shadow response each
    assert await purge(engine, older_than=time.time() - 30 * DAY) == type(result)(transactions=0, chunks=0)


async def test_a_purge_spanning_several_batches(engine: AsyncEngine) -> None:
    from luthien.storage import retention

    records = [
        _aged(index, 10 + index / 100, f"body {index}".encode())
        for index in range(retention.PURGE_BATCH_ROWS + 5)
    ]
    await write_records(engine, records)

    result = await purge(engine, older_than=time.time() - 5 * DAY)

    assert result.transactions == len(records)
    assert await _count(engine, transactions) == 0


async def test_the_background_task_purges_and_stops(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await write_records(engine, [_aged(0, 10, b"old"), _aged(1, 0, b"new")])
    task = RetentionTask(engine, days=7)

    def purged() -> bool:
        return any(record.name == "luthien.storage.retention" for record in caplog.records)

    with caplog.at_level(logging.INFO, logger="luthien.storage.retention"):
        task.start()
        for _ in range(1000):  # until the purge has logged what it deleted
            if purged():
                break
            await asyncio.sleep(0.01)
        await task.close()

    assert purged()
    assert await _count(engine, transactions) == 1


async def test_a_failed_purge_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = create_engine(
        DatabaseSettings(url=f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout_s=0.5)
    )
    task = RetentionTask(unreachable, days=1, interval_s=0.01)

    with caplog.at_level(logging.ERROR, logger="luthien.storage.retention"):
        task.start()
        for _ in range(1000):  # until two purges have failed
            if len([r for r in caplog.records if r.name == "luthien.storage.retention"]) >= 2:
                break
            await asyncio.sleep(0.01)
        await task.close()
    await unreachable.dispose()

    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) >= 2
