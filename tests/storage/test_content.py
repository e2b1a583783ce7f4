"""Content-addressed bodies: exact reassembly, and the storage-grows-linearly target.

A 100-turn Claude Code session must be stored in at most 3x its last request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyfastcdc import FastCDC
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.storage.chunk_store import ChunkCache
from luthien.storage.content import (
    CHUNK_AVG_BYTES,
    CHUNK_MAX_BYTES,
    CHUNK_MIN_BYTES,
    Codec,
    CorruptContent,
    Splitter,
    assemble,
    decode_manifest,
    encode_manifest,
)
from luthien.storage.engine import DatabaseSettings, create_engine
from luthien.storage.migrate import upgrade
from luthien.storage.queries import SqlRecordStore
from luthien.storage.schema import bodies, chunks
from tests.storage.claude_session import claude_code_response, claude_code_session
from tests.storage.records import make_record, write_records

TURNS = 100
TARGET_RATIO = 3.0


def _round_trip(body: bytes) -> bytes:
    splitter, codec = Splitter(), Codec()
    pieces: dict[bytes, memoryview] = {}
    split = splitter.split(body, pieces)
    ids = {digest: index for index, digest in enumerate(pieces)}
    stored = {ids[digest]: (len(data), codec.compress(data)) for digest, data in pieces.items()}
    manifest = encode_manifest([ids[digest] for digest in split.digests])
    chunk_data = {chunk_id: codec.decompress(data, size) for chunk_id, (size, data) in stored.items()}
    return assemble(decode_manifest(manifest), chunk_data, split.size)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3 * CHUNK_MAX_BYTES))
def test_any_body_reassembles_exactly(body: bytes) -> None:
    assert _round_trip(body) == body


@settings(max_examples=50, deadline=None)
@given(
    st.binary(min_size=1, max_size=4096),
    st.integers(min_value=1, max_value=40),
    st.binary(max_size=2048),
    st.floats(min_value=0, max_value=1),
)
def test_repetitive_bodies_with_edits_reassemble_exactly(
    unit: bytes, repeat: int, insert: bytes, at: float
) -> None:
    base = unit * repeat
    position = int(len(base) * at)
    body = base[:position] + insert + base[position:]
    assert _round_trip(body) == body


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2 * CHUNK_MIN_BYTES))
def test_short_bodies_are_cut_as_the_content_defined_cutter_cuts_them(body: bytes) -> None:
    # Bodies short enough to skip the cutter still get its chunks, so they share stored chunks with
    # the same bodies recorded by earlier versions.
    cutter = FastCDC(CHUNK_AVG_BYTES, min_size=CHUNK_MIN_BYTES, max_size=CHUNK_MAX_BYTES)
    expected = [hashlib.sha256(chunk.data).digest() for chunk in cutter.cut_buf(body)]

    assert list(Splitter().split(body, {}).digests) == expected


def test_an_insertion_in_the_middle_stores_only_a_few_new_chunks() -> None:
    first, second = claude_code_session(2)
    splitter = Splitter()
    before = set(splitter.split(first, {}).digests)

    after = splitter.split(second, {}).digests

    new = [digest for digest in after if digest not in before]
    assert len(new) <= 6
    # An 80 KB body in 2 KiB-average chunks is cut into dozens (how many depends on the project
    # source text the session quotes, which changes with every commit).
    assert len(after) >= 15


def test_the_digest_cache_vouches_only_for_today_and_evicts_the_least_recently_used() -> None:
    cache = ChunkCache(capacity=2)
    cache.remember({b"a": 1, b"b": 2}, day=10)
    assert cache.fresh(b"a", 10) == 1  # now the most recently used
    assert cache.fresh(b"a", 11) is None  # stamped on another day: look it up again

    cache.remember({b"c": 3}, day=10)

    assert (cache.fresh(b"a", 10), cache.fresh(b"b", 10), cache.fresh(b"c", 10)) == (1, None, 3)


def test_a_damaged_chunk_is_detected() -> None:
    codec = Codec()
    stored = codec.compress(b"x" * 1000)

    with pytest.raises(CorruptContent):
        codec.decompress(stored, 999)
    with pytest.raises(CorruptContent):
        codec.decompress(b"not zstd", 10)
    with pytest.raises(CorruptContent):
        assemble([1, 2], {1: b"a"}, 2)
    with pytest.raises(CorruptContent):
        assemble([1], {1: b"a"}, 2)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.binary(max_size=20_000), min_size=1, max_size=4))
def test_random_bodies_round_trip_through_the_database(bodies_: list[bytes]) -> None:
    records = [
        make_record(index, original_request=body, original_response=body[::-1], final_response=body + b"!")
        for index, body in enumerate(bodies_)
    ]

    async def run() -> list[object]:
        engine = create_engine(DatabaseSettings(url="sqlite:///:memory:"))
        await upgrade(engine)
        await write_records(engine, records)
        store = SqlRecordStore(engine)
        read = [await store.get_transaction(record.transaction_id) for record in records]
        await engine.dispose()
        return read

    assert asyncio.run(run()) == records


def _session_records() -> tuple[list, int]:
    requests = claude_code_session(TURNS)
    records = [
        make_record(
            turn,
            session_id="claude-session",
            original_request=request,
            original_response=claude_code_response(turn),
            events=(),
        )
        for turn, request in enumerate(requests)
    ]
    return records, len(requests[-1])


@pytest.mark.asyncio
async def test_a_100_turn_session_fits_in_3x_its_last_request_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "session.db"
    engine = create_engine(DatabaseSettings(url=f"sqlite:///{path}"))
    await upgrade(engine)
    await engine.dispose()
    empty_size = _checkpointed_size(path)
    records, last_request = _session_records()
    engine = create_engine(DatabaseSettings(url=f"sqlite:///{path}"))

    await write_records(engine, records)

    stored = await SqlRecordStore(engine).session_transactions("claude-session")
    assert [record.original_request for record in stored] == [record.original_request for record in records]
    assert [record.original_response for record in stored] == [record.original_response for record in records]
    await engine.dispose()
    # The whole database file: rows, indexes, search text and content.
    assert _checkpointed_size(path) - empty_size <= TARGET_RATIO * last_request


@pytest.mark.asyncio
async def test_a_100_turn_session_fits_in_3x_its_last_request_on_postgres(
    postgres_engine: AsyncEngine,
) -> None:
    records, last_request = _session_records()

    await write_records(postgres_engine, records)

    stored = await SqlRecordStore(postgres_engine).session_transactions("claude-session")
    assert [record.original_request for record in stored] == [record.original_request for record in records]
    async with postgres_engine.connect() as conn:
        content = await conn.scalar(
            select(func.sum(func.length(chunks.c.data) + func.length(chunks.c.digest)))
        )
        manifests = await conn.scalar(select(func.sum(func.length(bodies.c.manifest))))
    # Content bytes (PostgreSQL's page and TOAST overheads are its own; see docs/records.md).
    assert content + manifests <= TARGET_RATIO * last_request


def _checkpointed_size(path: Path) -> int:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return os.path.getsize(path)
