"""Database URLs as users write them, SQLite's settings, and `open_storage` as the app uses it."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.records.query import TransactionFilter
from luthien.settings import Settings
from luthien.storage import open_storage
from luthien.storage.engine import DatabaseSettings, DatabaseUrlError, async_url, create_engine
from luthien.storage.migrate import current_revision, head_revision
from luthien.storage.queries import SqlRecordStore
from tests.storage.records import make_record
from tests.support.ports import free_port
from tests.support.tcp_forwarder import TcpForwarder


@pytest.mark.parametrize(
    ("url", "driver", "database"),
    [
        ("sqlite:///luthien.db", "sqlite+aiosqlite", "luthien.db"),
        ("sqlite:////var/lib/luthien/records.db", "sqlite+aiosqlite", "/var/lib/luthien/records.db"),
        ("sqlite:///:memory:", "sqlite+aiosqlite", ":memory:"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite", "x.db"),
        ("postgresql://u:p@db.example:5433/records", "postgresql+asyncpg", "records"),
        ("postgres://u@db/records", "postgresql+asyncpg", "records"),
        ("postgresql+psycopg2://u@db/records", "postgresql+asyncpg", "records"),
    ],
)
def test_urls_as_users_write_them_get_the_async_driver(url: str, driver: str, database: str) -> None:
    parsed = async_url(url)

    assert (parsed.drivername, parsed.database) == (driver, database)


@pytest.mark.parametrize("url", ["mysql://localhost/x", "not a url", "redis://localhost"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(DatabaseUrlError):
        async_url(url)


def test_the_default_database_is_a_sqlite_file_in_the_working_directory() -> None:
    assert Settings().database_url == "sqlite:///luthien.db"


@pytest.mark.asyncio
async def test_a_sqlite_file_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = create_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'w.db'}", timeout_s=2.5))
    async with engine.connect() as conn:
        journal = await conn.scalar(text("PRAGMA journal_mode"))
        busy = await conn.scalar(text("PRAGMA busy_timeout"))
        foreign_keys = await conn.scalar(text("PRAGMA foreign_keys"))
    await engine.dispose()

    assert (journal, busy, foreign_keys) == ("wal", 2500, 1)


@pytest.mark.asyncio
async def test_storage_migrates_records_and_drains_on_close(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    storage = open_storage(Settings(database_url=f"sqlite:///{path}"))
    assert storage.enabled
    assert storage.sink is storage.writer
    assert storage.record_store is storage.store

    await storage.start()
    assert storage.engine is not None
    assert await current_revision(storage.engine) == head_revision()
    assert storage.writer is not None
    for index in range(25):
        storage.writer.submit(make_record(index))
    await storage.close()

    count = sqlite3.connect(path).execute("SELECT count(*) FROM transactions").fetchone()
    assert count == (25,)


@pytest.mark.asyncio
async def test_storage_in_memory_keeps_records_for_the_process() -> None:
    storage = open_storage(Settings(database_url="sqlite:///:memory:", retention_days=30))
    await storage.start()
    assert storage.writer is not None
    assert storage.store is not None
    assert storage.retention is not None
    storage.writer.submit(make_record(3))
    await storage.writer.flush()

    page = await storage.store.list_transactions(TransactionFilter())

    assert [s.transaction_id for s in page.items] == ["tx-00003"]
    await storage.close()


@pytest.mark.asyncio
async def test_records_off_opens_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LUTHIEN_RECORDS", "off")
    storage = open_storage(Settings())

    await storage.start()
    await storage.close()

    assert not storage.enabled
    assert (storage.writer, storage.store, storage.sink, storage.record_store) == (None, None, None, None)
    assert os.listdir(tmp_path) == []


def test_an_unusable_database_url_fails_at_open() -> None:
    with pytest.raises(DatabaseUrlError):
        open_storage(Settings(database_url="mysql://localhost/x"))


@pytest.mark.asyncio
async def test_storage_starts_recording_once_an_unreachable_database_answers(
    postgres_url: str, postgres_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    target = make_url(postgres_url)
    forwarder = TcpForwarder(target.host or "127.0.0.1", target.port or 5432)
    url = target.set(port=forwarder.port).render_as_string(hide_password=False)
    storage = open_storage(Settings(database_url=url, database_timeout_s=1.0))
    with caplog.at_level(logging.WARNING, logger="luthien.storage.service"):
        await storage.start()  # returns: the server keeps serving without its database
    assert [r.levelno for r in caplog.records if r.name == "luthien.storage.service"] == [logging.WARNING]
    assert storage.writer is not None
    for index in range(3):
        storage.writer.submit(make_record(index))
    assert storage.writer.stats.queued == 3

    await forwarder.start()
    try:
        await storage.writer.flush()
        page = await SqlRecordStore(postgres_engine).list_transactions(TransactionFilter())
        assert sorted(s.transaction_id for s in page.items) == ["tx-00000", "tx-00001", "tx-00002"]
    finally:
        await storage.close()
        await forwarder.stop()


@pytest.mark.asyncio
async def test_closing_storage_that_never_reached_its_database_counts_the_backlog() -> None:
    storage = open_storage(Settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x"))
    await storage.start()
    assert storage.writer is not None
    storage.writer.submit(make_record(1))

    await storage.close()

    assert storage.writer.stats.dropped == 1


@pytest.mark.asyncio
async def test_a_sqlite_file_that_cannot_be_opened_stops_startup(tmp_path: Path) -> None:
    storage = open_storage(Settings(database_url=f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"))

    with pytest.raises(OperationalError):
        await storage.start()
    await storage.close()


@pytest.mark.asyncio
async def test_a_database_that_answers_but_does_not_exist_stops_recording(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    target = make_url(postgres_url)
    forwarder = TcpForwarder(target.host or "127.0.0.1", target.port or 5432)
    url = target.set(port=forwarder.port, database="luthien_no_such_database").render_as_string(
        hide_password=False
    )
    storage = open_storage(Settings(database_url=url, database_timeout_s=1.0))
    await storage.start()  # unreachable: retried in the background
    assert storage.writer is not None
    storage.writer.submit(make_record(1))

    def gave_up() -> bool:
        return any(r.name == "luthien.storage.service" and r.levelno == logging.ERROR for r in caplog.records)

    await forwarder.start()
    for _ in range(1000):  # until the retry has reached the server and given up
        if gave_up():
            break
        await asyncio.sleep(0.01)
    await storage.close()
    await forwarder.stop()

    assert gave_up()
    assert storage.writer.stats.dropped == 1
