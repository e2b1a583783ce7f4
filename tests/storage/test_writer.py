"""The record writer: batches, counted drops, drain on close, and an unavailable database.

The database is locked (SQLite) or goes away (PostgreSQL) while calls keep coming.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.records.model import RecordedEvent, ShadowOutcome, ShadowResult, Usage
from luthien.records.query import MAX_PAGE_SIZE, TransactionFilter
from luthien.storage.engine import DatabaseSettings, create_engine
from luthien.storage.migrate import upgrade
from luthien.storage.queries import SqlRecordStore
from luthien.storage.writer import RecordWriter, is_transient
from tests.storage.records import T0, anthropic_request, anthropic_response, make_record
from tests.support.tcp_forwarder import TcpForwarder

pytestmark = pytest.mark.asyncio
WRITER_LOGGER = "luthien.storage.writer"
# Polling bound while waiting for the writer to hit a locked or absent database (not a time limit
# on anything measured: the loop ends as soon as the condition holds).
POLLS = 2000
POLL_S = 0.01
LARGE_BATCH = 150
"""Records in one batch: more rows than one SQLite statement can list (`luthien.storage.bulk`)."""


async def _stored_ids(engine: AsyncEngine) -> list[str]:
    page = await SqlRecordStore(engine).list_transactions(TransactionFilter(), limit=MAX_PAGE_SIZE)
    return sorted(summary.transaction_id for summary in page.items)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(POLLS):
        if condition():
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError("condition never held")


async def test_queued_records_are_written_in_batches(engine: AsyncEngine) -> None:
    writer = RecordWriter(engine, queue_size=100, batch_size=10)
    for index in range(35):
        writer.submit(make_record(index))
    assert writer.stats.queued == 35

    writer.start()
    await writer.flush()

    stats = writer.stats
    assert (stats.written, stats.batches, stats.queued, stats.dropped) == (35, 4, 0, 0)
    assert len(await _stored_ids(engine)) == 35
    await writer.close()


async def test_records_arriving_one_by_one_are_gathered_into_one_batch(engine: AsyncEngine) -> None:
    # Calls end one after another, each letting the event loop run in between (as the gateway's
    # calls do); the writer lets them gather instead of paying a database transaction per call.
    writer = RecordWriter(engine, queue_size=100, linger_s=1.0)
    writer.start()
    for index in range(5):
        writer.submit(make_record(index))
        await asyncio.sleep(0)
    await writer.flush()

    stats = writer.stats
    assert (stats.written, stats.batches) == (5, 1)
    assert len(await _stored_ids(engine)) == 5
    await writer.close()


async def test_a_full_queue_drops_counts_and_logs(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    writer = RecordWriter(engine, queue_size=5)
    with caplog.at_level(logging.WARNING, logger=WRITER_LOGGER):
        for index in range(12):
            writer.submit(make_record(index))

    assert writer.stats.dropped == 7
    assert [r.levelno for r in caplog.records if r.name == WRITER_LOGGER] == [logging.WARNING]
    writer.start()
    await writer.close()
    assert writer.stats.written == 5
    assert await _stored_ids(engine) == [f"tx-{i:05d}" for i in range(5)]


async def test_close_drains_the_queue_and_later_submits_are_dropped(engine: AsyncEngine) -> None:
    writer = RecordWriter(engine, queue_size=1000)
    writer.start()
    for index in range(60):
        writer.submit(make_record(index))

    await writer.close()
    writer.submit(make_record(99))

    assert writer.stats.written == 60
    assert writer.stats.dropped == 1
    assert len(await _stored_ids(engine)) == 60


async def test_a_record_the_database_rejects_is_dropped_alone(engine: AsyncEngine) -> None:
    too_big = make_record(1, usage=Usage(input_tokens=2**70))
    not_json = make_record(
        2, events=(RecordedEvent(type="x", data={"value": object()}, policy=None, timestamp=T0),)
    )
    writer = RecordWriter(engine, queue_size=10)
    for record in (make_record(0), too_big, not_json, make_record(3)):
        writer.submit(record)

    writer.start()
    await writer.close()

    assert (writer.stats.written, writer.stats.failed) == (2, 2)
    assert await _stored_ids(engine) == ["tx-00000", "tx-00003"]


async def test_a_large_batch_stores_every_record_whole_with_its_own_bodies_and_events(
    engine: AsyncEngine,
) -> None:
    # More records than one SQLite statement's parameters can list, some with shadows, two events and
    # changed bodies, and one submitted twice within the batch: each reads back exactly as submitted.
    records = [
        make_record(
            index,
            final_request=anthropic_request(f"rewritten {index}") if index % 2 else None,
            final_response=anthropic_response(f"changed {index}") if index % 5 == 0 else None,
            events=tuple(
                RecordedEvent(
                    type=f"policy.step{step}", data={"index": index}, policy="noop", timestamp=T0 + step
                )
                for step in range(index % 3)
            ),
            shadows=(ShadowResult("judge", ShadowOutcome.WOULD_BLOCK, error=f"shadow {index}"),)
            if index % 4 == 0
            else (),
        )
        for index in range(LARGE_BATCH)
    ]
    writer = RecordWriter(engine, queue_size=LARGE_BATCH + 1, batch_size=LARGE_BATCH + 1)
    for record in (*records, records[7]):
        writer.submit(record)
    writer.start()
    await writer.close()

    assert (writer.stats.written, writer.stats.batches, writer.stats.failed) == (LARGE_BATCH, 1, 0)
    store = SqlRecordStore(engine)
    assert [await store.get_transaction(record.transaction_id) for record in records] == records


async def test_a_record_submitted_twice_is_stored_once(engine: AsyncEngine) -> None:
    writer = RecordWriter(engine, queue_size=10)
    writer.start()
    writer.submit(make_record(1))
    await writer.flush()
    writer.submit(make_record(1))
    await writer.close()

    assert writer.stats.written == 1
    assert writer.stats.failed == 0
    assert await _stored_ids(engine) == ["tx-00001"]


@pytest_asyncio.fixture
async def sqlite_path(tmp_path: Path) -> AsyncIterator[str]:
    path = str(tmp_path / "locked.db")
    engine = create_engine(DatabaseSettings(url=f"sqlite:///{path}"))
    await upgrade(engine)
    await engine.dispose()
    yield path


async def test_a_locked_sqlite_database_delays_writes_and_calls_keep_flowing(
    sqlite_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(DatabaseSettings(url=f"sqlite:///{sqlite_path}", timeout_s=0.05))
    writer = RecordWriter(engine, queue_size=20)
    writer.start()
    lock = sqlite3.connect(sqlite_path, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger=WRITER_LOGGER):
            writer.submit(make_record(0))
            await _until(lambda: writer.stats.retries >= 2)
            for index in range(1, 31):  # the queue holds 20 besides the batch being retried
                writer.submit(make_record(index))
        assert writer.stats.written == 0
        assert writer.stats.dropped == 10
        assert any(r.levelno == logging.WARNING for r in caplog.records if r.name == WRITER_LOGGER)
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    await writer.flush()

    assert writer.stats.written == 21
    assert await _stored_ids(engine) == [f"tx-{i:05d}" for i in range(21)]
    await writer.close()
    await engine.dispose()


async def test_postgres_going_away_and_coming_back(postgres_url: str, postgres_engine: AsyncEngine) -> None:
    engine = postgres_engine
    target = make_url(postgres_url)
    forwarder = TcpForwarder(target.host or "127.0.0.1", target.port or 5432)
    via_forwarder = target.set(port=forwarder.port).render_as_string(hide_password=False)
    writer_engine = create_engine(DatabaseSettings(url=via_forwarder, timeout_s=1.0))
    writer = RecordWriter(writer_engine, queue_size=1000)
    writer.start()
    try:
        # Nothing listens yet: the database is unreachable from the start.
        writer.submit(make_record(0))
        await _until(lambda: writer.stats.retries >= 1)
        await forwarder.start()
        await writer.flush()
        assert await _stored_ids(engine) == ["tx-00000"]

        # Stopped mid-run: records queue while it is down and are written once it is back.
        await forwarder.stop()
        retries = writer.stats.retries
        for index in range(1, 11):
            writer.submit(make_record(index))
        await _until(lambda: writer.stats.retries > retries)
        assert writer.stats.written == 1
        await forwarder.start()
        await writer.flush()

        assert writer.stats.written == 11
        assert writer.stats.dropped == 0
        assert await _stored_ids(engine) == [f"tx-{i:05d}" for i in range(11)]
    finally:
        await writer.close()
        await writer_engine.dispose()
        await forwarder.stop()


async def test_close_gives_up_after_its_timeout_and_counts_the_backlog() -> None:
    # A PostgreSQL URL where nothing listens: the backlog can never be written.
    forwarder = TcpForwarder("127.0.0.1", 5432)
    engine = create_engine(
        DatabaseSettings(url=f"postgresql://postgres@127.0.0.1:{forwarder.port}/x", timeout_s=0.5)
    )
    writer = RecordWriter(engine, queue_size=100)
    writer.start()
    for index in range(5):
        writer.submit(make_record(index))
    await _until(lambda: writer.stats.retries >= 1)

    await writer.close(timeout_s=0.2)

    assert writer.stats.dropped == 5
    assert writer.stats.written == 0
    assert writer.stats.queued == 0
    await engine.dispose()


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (sa_exc.OperationalError("BEGIN", {}, Exception("database is locked")), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (sa_exc.DBAPIError("SELECT 1", {}, _PgError("57P03")), True),  # the database is starting up
        (sa_exc.DBAPIError("SELECT 1", {}, _PgError("08006")), True),  # connection failure
        (sa_exc.DBAPIError("SELECT 1", {}, _PgError("53300")), True),  # too many connections
        (sa_exc.DBAPIError("SELECT 1", {}, _PgError("3D000")), False),  # no such database
        (sa_exc.DBAPIError("SELECT 1", {}, _PgError("22003")), False),  # numeric value out of range
        (sa_exc.IntegrityError("INSERT", {}, Exception()), False),
        (ValueError(), False),
    ],
)
async def test_which_failures_are_retried(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
