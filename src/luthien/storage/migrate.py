"""Running the records migrations (Alembic, shipped in `luthien/storage/migrations/`).

`upgrade` runs at startup on the app's engine, inside its event loop; the `luthien db` commands use
the same functions. On PostgreSQL an advisory lock makes replicas that start together migrate one at
a time.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.storage.engine import writer_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
HEAD = "head"
BASE = "base"
# Arbitrary constant naming Luthien's migration lock among the database's advisory locks.
_ADVISORY_LOCK_KEY = 0x4C75746869656E


def alembic_config() -> Config:
    """An Alembic config pointing at the shipped migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest revision the shipped migrations define."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _run(engine: AsyncEngine, action: str, revision: str) -> None:
    def migrate(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        if action == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)

    async with writer_engine(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        await conn.run_sync(migrate)


async def upgrade(engine: AsyncEngine, revision: str = HEAD) -> None:
    """Migrate the database up to `revision` (default: the newest)."""
    await _run(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to `revision` (`base`: no tables left)."""
    await _run(engine, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: never migrated)."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)
