"""`SqlRecordStore`: the `RecordStore` queries over SQLite or PostgreSQL.

Lists are keyset-paginated newest first on `(received_at, pk)`: a cursor is the position of the last
row of a page, so pages never repeat or skip a row however many records arrive meanwhile. Cursors
are opaque (base64url of a small JSON array); anything else is `InvalidQuery(field="cursor")`.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from luthien.records.model import TransactionRecord, TransactionStatus
from luthien.records.query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InvalidQuery,
    Page,
    SessionSummary,
    TransactionFilter,
    TransactionSummary,
)
from luthien.storage.chunk_store import IN_LIST_SIZE, batched, load_chunks
from luthien.storage.content import Codec, assemble, decode_manifest
from luthien.storage.rows import SUMMARY_COLUMNS, record_from_row, summary_from_row
from luthien.storage.schema import bodies, events, shadows, transactions

# Records reassembled per query when exporting.
EXPORT_BATCH_SIZE = 100
_LIKE_ESCAPE = "\\"
t = transactions.c


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidQuery("limit", f"limit must be between 1 and {MAX_PAGE_SIZE}")


def encode_cursor(position: Sequence[float | int | str]) -> str:
    """An opaque cursor for a keyset position."""
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def _decode_cursor(cursor: str, types: tuple[type | tuple[type, ...], ...]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = orjson.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidQuery("cursor", "malformed cursor") from error
    valid = (
        isinstance(position, list)
        and len(position) == len(types)  # pyright: ignore[reportUnknownArgumentType]
        and all(
            isinstance(value, kind) and not isinstance(value, bool)
            for value, kind in zip(position, types, strict=True)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
        )
    )
    if not valid:
        raise InvalidQuery("cursor", "malformed cursor")
    return position  # pyright: ignore[reportUnknownVariableType]


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_conditions(filter: TransactionFilter) -> list[ColumnElement[bool]]:
    """SQL conditions on `transactions` selecting what `filter` selects."""
    conditions: list[ColumnElement[bool]] = []
    if filter.session_id is not None:
        conditions.append(t.session_id == filter.session_id)
    if filter.model is not None:
        conditions.append(t.model == filter.model)
    if filter.policy is not None:
        conditions.append(t.policy == filter.policy)
    if filter.statuses:
        conditions.append(t.status.in_(sorted(status.value for status in filter.statuses)))
    if filter.blocked_only:
        conditions.append(t.status == TransactionStatus.BLOCKED.value)
    if filter.event_type is not None:
        conditions.append(
            exists().where(and_(events.c.transaction_pk == t.pk, events.c.type == filter.event_type))
        )
    if filter.since is not None:
        conditions.append(t.received_at >= filter.since)
    if filter.until is not None:
        conditions.append(t.received_at < filter.until)
    if filter.shadow_disagreed is not None:
        conditions.append(t.shadow_disagreed.is_(filter.shadow_disagreed))
    if filter.text:
        conditions.append(t.search_text.like(_like_pattern(filter.text), escape=_LIKE_ESCAPE))
    return conditions


class SqlRecordStore:
    """Implements `RecordStore` over the records schema."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._codec = Codec()

    async def list_transactions(
        self, filter: TransactionFilter, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> Page[TransactionSummary]:
        """Transactions matching `filter`, newest first."""
        _check_limit(limit)
        statement = select(*SUMMARY_COLUMNS).where(*filter_conditions(filter))
        if cursor is not None:
            received_at, pk = _decode_cursor(cursor, ((float, int), int))
            statement = statement.where(
                or_(t.received_at < received_at, and_(t.received_at == received_at, t.pk < pk))
            )
        statement = statement.order_by(t.received_at.desc(), t.pk.desc()).limit(limit + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor((rows[-1].received_at, rows[-1].pk))
        return Page(items=tuple(summary_from_row(row) for row in rows), next_cursor=next_cursor)

    async def get_transaction(self, transaction_id: str) -> TransactionRecord | None:
        """One whole record (bodies reassembled byte for byte), or None if unknown."""
        async with self._engine.connect() as conn:
            records = await self._records(
                conn, select(transactions).where(t.transaction_id == transaction_id)
            )
        return records[0] if records else None

    async def list_sessions(
        self, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, text: str | None = None
    ) -> Page[SessionSummary]:
        """Agent sessions, most recently active first; `text` matches the session id."""
        _check_limit(limit)
        last_at = func.max(t.received_at)
        statement = select(
            t.session_id,
            func.min(t.received_at).label("first_at"),
            last_at.label("last_at"),
            func.count().label("transaction_count"),
            func.sum(case((t.status == TransactionStatus.BLOCKED.value, 1), else_=0)).label("blocked_count"),
        ).where(t.session_id.is_not(None))
        if text:
            statement = statement.where(
                func.lower(t.session_id).like(_like_pattern(text), escape=_LIKE_ESCAPE)
            )
        statement = statement.group_by(t.session_id)
        if cursor is not None:
            cursor_last, cursor_session = _decode_cursor(cursor, ((float, int), str))
            statement = statement.having(
                or_(last_at < cursor_last, and_(last_at == cursor_last, t.session_id < cursor_session))
            )
        statement = statement.order_by(last_at.desc(), t.session_id.desc()).limit(limit + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
            next_cursor = None
            if len(rows) > limit:
                rows = rows[:limit]
                next_cursor = encode_cursor((rows[-1].last_at, rows[-1].session_id))
            models = await _session_models(conn, [row.session_id for row in rows])
        items = tuple(
            SessionSummary(
                session_id=row.session_id,
                first_at=row.first_at,
                last_at=row.last_at,
                transaction_count=row.transaction_count,
                blocked_count=int(row.blocked_count or 0),
                models=models.get(row.session_id, ()),
            )
            for row in rows
        )
        return Page(items=items, next_cursor=next_cursor)

    async def session_transactions(self, session_id: str) -> list[TransactionRecord]:
        """Every record of one session, oldest first (empty if unknown)."""
        statement = select(transactions).where(t.session_id == session_id).order_by(t.received_at, t.pk)
        async with self._engine.connect() as conn:
            return await self._records(conn, statement)

    async def export(self, filter: TransactionFilter) -> AsyncIterator[TransactionRecord]:
        """Every record matching `filter`, oldest first, read `EXPORT_BATCH_SIZE` at a time."""
        conditions = filter_conditions(filter)
        position: tuple[float, int] | None = None
        while True:
            statement = select(transactions).where(*conditions)
            if position is not None:
                received_at, pk = position
                statement = statement.where(
                    or_(t.received_at > received_at, and_(t.received_at == received_at, t.pk > pk))
                )
            statement = statement.order_by(t.received_at, t.pk).limit(EXPORT_BATCH_SIZE)
            # One short read per batch: no connection or snapshot is held while the consumer works.
            async with self._engine.connect() as conn:
                rows = (await conn.execute(statement)).all()
                records = await self._assemble(conn, rows)
            for record in records:
                yield record
            if len(rows) < EXPORT_BATCH_SIZE:
                return
            position = (rows[-1].received_at, rows[-1].pk)

    async def _records(self, conn: AsyncConnection, statement: Select[Any]) -> list[TransactionRecord]:
        rows = (await conn.execute(statement)).all()
        return await self._assemble(conn, rows)

    async def _assemble(self, conn: AsyncConnection, rows: Sequence[Any]) -> list[TransactionRecord]:
        """Whole records for `transactions` rows: their events and reassembled bodies."""
        if not rows:
            return []
        event_rows: dict[int, list[Any]] = defaultdict(list)
        shadow_rows: dict[int, list[Any]] = defaultdict(list)
        manifests: dict[int, list[tuple[int, int, list[int]]]] = defaultdict(list)
        for pks in batched((row.pk for row in rows), IN_LIST_SIZE):
            event_query = select(events).where(events.c.transaction_pk.in_(pks))
            for event in await conn.execute(event_query.order_by(events.c.transaction_pk, events.c.seq)):
                event_rows[event.transaction_pk].append(event)
            shadow_query = select(shadows).where(shadows.c.transaction_pk.in_(pks))
            for shadow in await conn.execute(shadow_query.order_by(shadows.c.transaction_pk, shadows.c.seq)):
                shadow_rows[shadow.transaction_pk].append(shadow)
            for body in await conn.execute(select(bodies).where(bodies.c.transaction_pk.in_(pks))):
                entry = (body.kind, body.size, decode_manifest(body.manifest))
                manifests[body.transaction_pk].append(entry)
        chunk_ids = {chunk_id for entries in manifests.values() for _, _, ids in entries for chunk_id in ids}
        chunk_data = await load_chunks(conn, chunk_ids, self._codec)
        return [
            record_from_row(
                row,
                event_rows.get(row.pk, []),
                {kind: assemble(ids, chunk_data, size) for kind, size, ids in manifests.get(row.pk, [])},
                shadow_rows.get(row.pk, []),
            )
            for row in rows
        ]


async def _session_models(conn: AsyncConnection, session_ids: list[str]) -> dict[str, tuple[str, ...]]:
    if not session_ids:
        return {}
    statement = (
        select(t.session_id, t.model)
        .where(t.session_id.in_(session_ids), t.model.is_not(None))
        .group_by(t.session_id, t.model)
        .order_by(t.session_id, func.min(t.received_at))
    )
    models: dict[str, list[str]] = defaultdict(list)
    for session_id, model in await conn.execute(statement):
        models[session_id].append(model)
    return {session_id: tuple(names) for session_id, names in models.items()}
