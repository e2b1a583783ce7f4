"""Storage fixtures: migrated databases on real SQLite and PostgreSQL.

SQLite: a temporary file per test. PostgreSQL: the machine's server, a uniquely named database
created for this test session (and others for migration tests), all dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.storage.engine import DatabaseSettings, create_engine
from luthien.storage.migrate import upgrade

# The machine's PostgreSQL (trust auth); tests create their own databases from this one.
POSTGRES_ADMIN_URL = os.environ.get("LUTHIEN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ("sqlite", "postgresql")
_TABLES = "transactions, events, bodies, chunks, replay_runs, replay_items"


def _server_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


class PostgresDatabases:
    """Creates uniquely named PostgreSQL databases and drops them all at the end."""

    def __init__(self) -> None:
        self._created: list[str] = []

    def create(self) -> str:
        """A new empty database; returns its URL."""
        name = f"luthien_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return _server_url(name)

    def drop_all(self) -> None:
        for name in self._created:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    """A PostgreSQL database for this test session, migrated to the newest schema."""
    url = postgres_databases.create()

    async def migrate() -> None:
        engine = create_engine(DatabaseSettings(url=url))
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return url


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each engine (SQLite: a new file; PostgreSQL: the session's database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    return request.getfixturevalue("postgres_url")


async def _migrated_empty_engine(url: str) -> AsyncEngine:
    engine = create_engine(DatabaseSettings(url=url, timeout_s=5.0))
    await upgrade(engine)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
    return engine


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine with empty tables, on each engine."""
    engine = await _migrated_empty_engine(database_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def postgres_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated PostgreSQL engine with empty tables."""
    engine = await _migrated_empty_engine(postgres_url)
    yield engine
    await engine.dispose()
