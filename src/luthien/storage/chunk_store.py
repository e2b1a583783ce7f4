"""Chunks in the database: finding or inserting them by digest, and reading them back.

The writer keeps an LRU cache of digests it has stored or seen today, so a turn that repeats the
conversation needs no database lookup for the chunks it shares with the previous turn. A chunk is
reused from the cache only if it was stamped (`used_day`) today: retention never deletes a chunk
stamped on a recent day, so a cached id cannot point at a purged row. Other chunks are upserted in
the writer's transaction (`INSERT ... ON CONFLICT (digest) DO UPDATE SET used_day ... RETURNING id`),
which inserts a new chunk, or stamps an existing one and returns its id.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from luthien.storage.content import Codec
from luthien.storage.schema import chunks

SECONDS_PER_DAY = 86_400
# Digests cached by the writer: 100k entries (~15 MB) cover ~200 MB of distinct content.
CHUNK_CACHE_ENTRIES = 100_000
# Values per IN (...) list; well under SQLite's and asyncpg's parameter limits.
IN_LIST_SIZE = 500


def today() -> int:
    """Days since the epoch (UTC), the unit of `chunks.used_day`."""
    return int(time.time() // SECONDS_PER_DAY)


T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterable[list[T]]:
    """`items` in lists of at most `size`."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class ChunkCache:
    """Digest → (chunk id, day stamped), least recently used evicted first."""

    def __init__(self, capacity: int = CHUNK_CACHE_ENTRIES) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[int, int]] = OrderedDict()

    def fresh(self, digest: bytes, day: int) -> int | None:
        """The chunk id of `digest` if it was stamped on `day`."""
        entry = self._entries.get(digest)
        if entry is None or entry[1] != day:
            return None
        self._entries.move_to_end(digest)
        return entry[0]

    def remember(self, ids: Mapping[bytes, int], day: int) -> None:
        """Record that these chunks exist and were stamped on `day` (call after commit)."""
        entries = self._entries
        for digest, chunk_id in ids.items():
            entries[digest] = (chunk_id, day)
            entries.move_to_end(digest)
        while len(entries) > self._capacity:
            entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class NewChunks:
    """Chunks to store: their bytes, and their stored form where it was computed ahead of time."""

    pieces: Mapping[bytes, memoryview]
    compressed: Mapping[bytes, bytes]
    codec: Codec

    def stored(self, digest: bytes) -> bytes:
        """The compressed form of a chunk."""
        data = self.compressed.get(digest)
        return data if data is not None else self.codec.compress(self.pieces[digest])


async def store_chunks(
    conn: AsyncConnection, new: NewChunks, cache: ChunkCache, day: int
) -> dict[bytes, int]:
    """The chunk id of every digest in `new.pieces`, inserting the chunks not stored yet.

    Chunks the cache vouches for cost nothing; the others are upserted in one statement per
    `IN_LIST_SIZE`: inserted if new, stamped with `day` if already there (stored by another writer,
    or before a restart). An upsert cannot lose a race with another writer inserting the same chunk.
    Runs inside the caller's transaction; call `cache.remember` with the result once it commits.
    """
    ids: dict[bytes, int] = {}
    unknown: list[bytes] = []
    for digest in new.pieces:
        chunk_id = cache.fresh(digest, day)
        if chunk_id is None:
            unknown.append(digest)
        else:
            ids[digest] = chunk_id
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for batch in batched(unknown, IN_LIST_SIZE):
        rows = [
            {"digest": digest, "size": len(new.pieces[digest]), "used_day": day, "data": new.stored(digest)}
            for digest in batch
        ]
        statement = insert(chunks)
        statement = statement.on_conflict_do_update(
            index_elements=[chunks.c.digest], set_={"used_day": statement.excluded.used_day}
        ).returning(chunks.c.id, chunks.c.digest)
        for chunk_id, digest in await conn.execute(statement, rows):
            ids[bytes(digest)] = chunk_id
    return ids


async def load_chunks(conn: AsyncConnection, chunk_ids: Iterable[int], codec: Codec) -> dict[int, bytes]:
    """The decompressed bytes of each chunk id (missing ids are absent from the result)."""
    loaded: dict[int, bytes] = {}
    for batch in batched(set(chunk_ids), IN_LIST_SIZE):
        statement = select(chunks.c.id, chunks.c.size, chunks.c.data).where(chunks.c.id.in_(batch))
        for chunk_id, size, data in await conn.execute(statement):
            loaded[chunk_id] = codec.decompress(data, size)
    return loaded
