"""Chunks in the database: finding or inserting them by digest, and reading them back.

The writer keeps an LRU cache of digests it has stored or seen today, so a turn that repeats the
conversation needs no database lookup for the chunks it shares with the previous turn. A chunk is
reused from the cache only if it was stamped (`used_day`) today: retention never deletes a chunk
stamped on a recent day, so a cached id cannot point at a purged row. Older entries are stamped again
in the writer's transaction (`UPDATE ... RETURNING`), which also proves the row still exists.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from sqlalchemy import select, update
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


class ChunkRace(RuntimeError):
    """A chunk vanished between insert and lookup (a concurrent purge); the batch is retried."""


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

    def __len__(self) -> int:
        return len(self._entries)

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

    def clear(self) -> None:
        """Forget everything (after a purge, or in tests)."""
        self._entries.clear()


async def _stamp(conn: AsyncConnection, digests: Sequence[bytes], day: int) -> dict[bytes, int]:
    found: dict[bytes, int] = {}
    for batch in batched(digests, IN_LIST_SIZE):
        statement = (
            update(chunks)
            .where(chunks.c.digest.in_(batch))
            .values(used_day=day)
            .returning(chunks.c.id, chunks.c.digest)
        )
        for chunk_id, digest in await conn.execute(statement):
            found[bytes(digest)] = chunk_id
    return found


async def _insert(
    conn: AsyncConnection, new: NewChunks, digests: Sequence[bytes], day: int
) -> dict[bytes, int]:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    found: dict[bytes, int] = {}
    for batch in batched(digests, IN_LIST_SIZE):
        rows = [
            {
                "digest": digest,
                "size": len(new.pieces[digest]),
                "used_day": day,
                "data": new.stored(digest),
            }
            for digest in batch
        ]
        statement = (
            insert(chunks)
            .on_conflict_do_nothing(index_elements=[chunks.c.digest])
            .returning(chunks.c.id, chunks.c.digest)
        )
        for chunk_id, digest in await conn.execute(statement, rows):
            found[bytes(digest)] = chunk_id
    return found


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

    Runs inside the caller's transaction; call `cache.remember` with the result once it commits.

    Raises:
        ChunkRace: a chunk could be neither found nor inserted (deleted concurrently); retry.
    """
    ids: dict[bytes, int] = {}
    unknown: list[bytes] = []
    for digest in new.pieces:
        chunk_id = cache.fresh(digest, day)
        if chunk_id is None:
            unknown.append(digest)
        else:
            ids[digest] = chunk_id
    if not unknown:
        return ids
    ids.update(await _stamp(conn, unknown, day))
    missing = [digest for digest in unknown if digest not in ids]
    if missing:
        ids.update(await _insert(conn, new, missing, day))
        # Rows another writer inserted between our lookup and insert: stamp them too.
        raced = [digest for digest in missing if digest not in ids]
        if raced:
            ids.update(await _stamp(conn, raced, day))
            if any(digest not in ids for digest in raced):
                raise ChunkRace("a chunk was deleted while it was being stored")
    return ids


async def load_chunks(conn: AsyncConnection, chunk_ids: Iterable[int], codec: Codec) -> dict[int, bytes]:
    """The decompressed bytes of each chunk id (missing ids are absent from the result)."""
    loaded: dict[int, bytes] = {}
    for batch in batched(set(chunk_ids), IN_LIST_SIZE):
        statement = select(chunks.c.id, chunks.c.size, chunks.c.data).where(chunks.c.id.in_(batch))
        for chunk_id, size, data in await conn.execute(statement):
            loaded[chunk_id] = codec.decompress(data, size)
    return loaded
