"""Records databases for `bench/instructions.py --records`: a fresh one per server, counted and dropped.

`--records sqlite` records to a fresh file in the run's folder; `--records postgresql` to a database
created for the run on `LUTHIEN_BENCH_POSTGRES_URL`'s server (default the local `test` server) and
dropped after. `wait_stored` lets a count wait until the writer has stored every call served so far,
so each measured window holds the writing of its own calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

POSTGRES_ADMIN_URL = os.environ.get("LUTHIEN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DRAIN_TIMEOUT_S = 600.0
"""Seconds to wait for the record writer to store the calls served (slow under valgrind)."""
POLL_S = 0.2
RECORDS_CHOICES = ("off", "sqlite", "postgresql")


async def _postgres(statement: str, url: str = POSTGRES_ADMIN_URL) -> Any:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


def records_database(records: str, out_dir: Path, policy: str) -> str | None:
    """A fresh database URL for `--records` (None: recording off)."""
    if records == "sqlite":
        path = out_dir / f"records-{policy}.db"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if records == "postgresql":
        name = f"luthien_instructions_{os.getpid()}_{policy}"
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    return None


def recording_env(database_url: str | None) -> dict[str, str]:
    """The settings that record to `database_url` (recording off when None)."""
    if database_url is None:
        return {"LUTHIEN_RECORDS": "off"}
    return {"LUTHIEN_RECORDS": "on", "LUTHIEN_DATABASE_URL": database_url}


def drop_records_database(database_url: str | None) -> None:
    """Drop a database `records_database` created on PostgreSQL."""
    if database_url is not None and database_url.startswith("postgresql"):
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)'))


def stored_calls(database_url: str) -> int:
    """Transactions stored so far."""
    statement = "SELECT count(*) FROM transactions"
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as connection:
            return int(connection.execute(statement).fetchone()[0])
    return int(asyncio.run(_postgres(statement, database_url)))


def wait_stored(database_url: str | None, served: int) -> None:
    """Wait until the writer stored `served` calls (nothing to wait for when recording is off)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while database_url is not None and stored_calls(database_url) < served:
        if time.monotonic() > deadline:
            sys.exit(f"the writer stored {stored_calls(database_url)} of {served} calls")
        time.sleep(POLL_S)
