"""Alembic environment for the records schema (SQLite and PostgreSQL, async drivers).

`luthien.storage.migrate` runs migrations on a connection it passes in `config.attributes`
(startup does this inside the app's event loop). Without one (the `alembic` tool run by hand), an
async engine is made from `config.attributes["database_url"]` or `LUTHIEN_DATABASE_URL`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from luthien.settings import Settings
from luthien.storage.engine import DatabaseSettings, create_engine
from luthien.storage.schema import metadata

config = context.config


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place: Alembic rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_with_own_engine() -> None:
    url = config.attributes.get("database_url") or Settings().database_url
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


def run() -> None:
    """Run the migrations Alembic was asked for."""
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
    else:
        asyncio.run(_migrate_with_own_engine())


if context.is_offline_mode():
    raise SystemExit("Luthien's migrations run online only: use `luthien db upgrade`.")
run()
