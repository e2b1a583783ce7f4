"""`open_storage`: the one entry point the app uses (engine, migrations, writer, queries, retention).

storage = open_storage(settings)   # no I/O yet
await storage.start()              # migrates the database, starts the writer and retention
recorder_sink = storage.writer     # a RecordSink, or None with LUTHIEN_RECORDS=off
store = storage.store              # a RecordStore (None with LUTHIEN_RECORDS=off)
await storage.close()              # drains the writer, closes connections
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.records.model import RecordSink
from luthien.records.query import RecordStore
from luthien.replay.store import Prices, SqlReplayStore
from luthien.settings import Settings
from luthien.storage.engine import DatabaseSettings, create_engine
from luthien.storage.migrate import upgrade
from luthien.storage.queries import SqlRecordStore
from luthien.storage.retention import RetentionTask
from luthien.storage.writer import RETRY_INITIAL_S, RETRY_MAX_S, RecordWriter, is_transient

logger = logging.getLogger(__name__)


class Storage:
    """The records storage of one process. With recording off, everything is None and a no-op.

    Attributes:
        engine: the database engine.
        writer: the `RecordSink` the recorder submits to.
        store: the `RecordStore` the admin API reads.
        retention: the background purge (None when retention is off).
        replays: replay runs (`luthien.replay`), in the same database.
    """

    engine: AsyncEngine | None = None
    writer: RecordWriter | None = None
    store: SqlRecordStore | None = None
    retention: RetentionTask | None = None
    replays: SqlReplayStore | None = None
    _starting: asyncio.Task[None] | None = None

    def __init__(self, settings: Settings) -> None:
        if not settings.records:
            return
        self.engine = create_engine(
            DatabaseSettings(
                url=settings.database_url,
                pool_size=settings.database_pool_size,
                timeout_s=settings.database_timeout_s,
            )
        )
        self.writer = RecordWriter(self.engine, queue_size=settings.record_queue_size)
        self.store = SqlRecordStore(self.engine)
        prices = Prices(settings.judge_input_usd_per_mtok, settings.judge_output_usd_per_mtok)
        self.replays = SqlReplayStore(self.engine, prices)
        if settings.retention_days:
            self.retention = RetentionTask(self.engine, settings.retention_days)

    @property
    def enabled(self) -> bool:
        """Whether records are kept (`LUTHIEN_RECORDS`)."""
        return self.engine is not None

    @property
    def sink(self) -> RecordSink | None:
        """Where the recorder submits records (None: recording is off)."""
        return self.writer

    @property
    def record_store(self) -> RecordStore | None:
        """What the admin API queries (None: recording is off)."""
        return self.store

    async def ping(self, timeout_s: float) -> None:
        """Run a trivial query on the records database (nothing to do when recording is off).

        Raises:
            TimeoutError: no answer within `timeout_s`.
            Exception: whatever the driver raises for a database it cannot reach or use.
        """
        if self.engine is None:
            return
        async with asyncio.timeout(timeout_s), self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def start(self) -> None:
        """Migrate the database to the newest schema, then start the writer and retention tasks.

        A PostgreSQL server that is unreachable for now (down, restarting) does not stop the server:
        records queue up (to the queue's bound) and recording starts when the database answers.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be migrated (a SQLite file that
                cannot be opened, a PostgreSQL database that refuses the credentials or does not exist).
        """
        if self.engine is None:
            return
        try:
            await upgrade(self.engine)
        except Exception as error:
            # A local SQLite file that cannot be opened or migrated is a configuration error.
            if not is_transient(error) or self.engine.dialect.name == "sqlite":
                raise
            logger.warning(
                "records: the database is unavailable (%s); recording starts when it answers",
                type(error).__name__,
            )
            self._starting = asyncio.get_running_loop().create_task(
                self._start_when_reachable(self.engine), name="luthien-storage-start"
            )
            return
        self._start_tasks()

    async def _start_when_reachable(self, engine: AsyncEngine) -> None:
        delay = RETRY_INITIAL_S
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            try:
                await upgrade(engine)
            except Exception as error:
                if is_transient(error):
                    continue
                logger.exception("records: the database cannot be migrated; nothing will be recorded")
                return
            logger.info("records: the database is reachable; recording")
            self._start_tasks()
            return

    def _start_tasks(self) -> None:
        if self.writer is not None:
            self.writer.start()
        if self.retention is not None:
            self.retention.start()

    async def close(self) -> None:
        """Stop retention, drain the writer (bounded by its timeout), close the connections."""
        starting, self._starting = self._starting, None
        if starting is not None:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        if self.retention is not None:
            await self.retention.close()
        if self.writer is not None:
            await self.writer.close()
        if self.engine is not None:
            await self.engine.dispose()


def open_storage(settings: Settings) -> Storage:
    """The storage `settings` describe (no I/O until `start`).

    Raises:
        luthien.storage.engine.DatabaseUrlError: `LUTHIEN_DATABASE_URL` is not usable.
    """
    return Storage(settings)
