"""The database connection: `LUTHIEN_DATABASE_URL` as users write it, turned into an async engine.

Users write `sqlite:///path`, `sqlite:///:memory:`, `postgresql://...` or `postgres://...`; Luthien
picks the async driver (aiosqlite, asyncpg). SQLite runs in WAL mode, so readers (the admin API) never
block the writer, with a busy timeout of `database_timeout_s`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
_POSTGRES_NAMES = ("postgresql", "postgres")
# Connections above the pool size that PostgreSQL may open under bursts (admin queries during writes).
POOL_OVERFLOW = 5
# Execution option marking transactions that will write (see `writer_engine`).
WRITE_OPTION = "luthien_write"
# A WAL file this many pages long is folded back into the database (SQLite's default is 1000).
WAL_AUTOCHECKPOINT_PAGES = 1000


class DatabaseUrlError(ValueError):
    """`LUTHIEN_DATABASE_URL` names no supported database."""


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """What the engine needs from `Settings`.

    Attributes:
        url: the URL as the user wrote it.
        pool_size: PostgreSQL connections kept open.
        timeout_s: connect timeout, and SQLite's busy timeout.
    """

    url: str
    pool_size: int = 5
    timeout_s: float = 10.0


def async_url(url: str) -> URL:
    """`url` with the async driver Luthien uses for its database.

    Raises:
        DatabaseUrlError: the URL is malformed or names another database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseUrlError(f"LUTHIEN_DATABASE_URL is not a database URL: {url!r}") from error
    backend, _, _driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        return parsed.set(drivername=SQLITE_DRIVER)
    if backend in _POSTGRES_NAMES:
        return parsed.set(drivername=POSTGRES_DRIVER)
    raise DatabaseUrlError(f"LUTHIEN_DATABASE_URL must be sqlite:/// or postgresql://, not {backend}://")


def is_sqlite(url: URL) -> bool:
    """Whether `url` is a SQLite database."""
    return url.get_backend_name() == "sqlite"


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine for `settings.url` (pragmas set on every SQLite connection).

    Raises:
        DatabaseUrlError: the URL is not usable.
    """
    url = async_url(settings.url)
    if is_sqlite(url):
        return _sqlite_engine(url, settings.timeout_s)
    return create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=settings.timeout_s,
        pool_pre_ping=True,
        connect_args={"timeout": settings.timeout_s},
    )


def _sqlite_engine(url: URL, timeout_s: float) -> AsyncEngine:
    connect_args: dict[str, Any] = {"timeout": timeout_s}
    if _is_memory(url):
        # Every connection to :memory: is a new empty database: share the one connection.
        engine = create_async_engine(
            url, poolclass=StaticPool, connect_args={**connect_args, "check_same_thread": False}
        )
    else:
        engine = create_async_engine(url, connect_args=connect_args)
    busy_ms = int(timeout_s * 1000)
    memory = _is_memory(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        # The sqlite3 module would begin transactions itself, and never before DDL: Luthien emits
        # BEGIN (below) so that migrations are transactional and writers can lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: durable across application crashes; a power loss may lose the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        # A write transaction takes the write lock at BEGIN (waiting up to the busy timeout), so it
        # cannot fail halfway when another writer committed after its first read.
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer_engine(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for transactions that write: on SQLite they take the write lock when they begin."""
    return engine.execution_options(**{WRITE_OPTION: True})
