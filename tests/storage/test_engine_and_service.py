"""Database URLs as users write them, SQLite's settings, and `open_storage` as the app uses it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from luthien.records.query import TransactionFilter
from luthien.settings import Settings
from luthien.storage import open_storage
from luthien.storage.engine import DatabaseSettings, DatabaseUrlError, async_url, create_engine
from luthien.storage.migrate import current_revision, head_revision
from tests.storage.records import make_record


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
