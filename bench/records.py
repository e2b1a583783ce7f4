"""Records storage benchmark: dedup ratio of a Claude Code session, chunking cost, write throughput.

`python bench/records.py` (also run by `make bench`) builds a realistic 100-turn Claude Code session
(tests/storage/claude_session.py), and measures:

- storage of the whole session relative to its last request, for the shipped content store (SQLite
  file size, and content bytes) and for the alternatives considered (whole bodies, zstd per body, zstd
  with the previous turn as dictionary, content-defined chunks of other average sizes);
- CPU per body: cutting an 80 KB request into chunks and hashing them, and preparing a whole record
  (chunks, compression of new chunks, search text);
- write throughput through `RecordWriter` (records/s, submit to stored) on SQLite and, when reachable,
  PostgreSQL (a database created for the run and dropped after).

Results go to stdout and `bench/results/records.json`. See docs/records.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import zstandard  # noqa: E402
from pyfastcdc import FastCDC  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from luthien.records.model import Timing, TransactionRecord, TransactionStatus  # noqa: E402
from luthien.storage.chunk_store import ChunkCache  # noqa: E402
from luthien.storage.content import CHUNK_AVG_BYTES, Splitter  # noqa: E402
from luthien.storage.engine import DatabaseSettings, create_engine  # noqa: E402
from luthien.storage.migrate import upgrade  # noqa: E402
from luthien.storage.prepare import Preparer  # noqa: E402
from luthien.storage.schema import bodies, chunks  # noqa: E402
from luthien.storage.writer import RecordWriter  # noqa: E402
from tests.storage.claude_session import claude_code_response, claude_code_session  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "records.json"
POSTGRES_ADMIN_URL = os.environ.get("LUTHIEN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ZSTD_LEVEL = 3
ID_BYTES = 8  # a manifest entry


def session_records(requests: list[bytes], session: str, offset: int = 0) -> list[TransactionRecord]:
    return [
        TransactionRecord(
            transaction_id=f"{session}-{turn}",
            session_id=session,
            client_api="anthropic_messages",
            endpoint="/v1/messages",
            model="claude-opus-4-6",
            upstream="anthropic",
            policy="noop",
            status=TransactionStatus.OK,
            http_status=200,
            streaming=True,
            timing=Timing(
                received_at=1_767_000_000.0 + offset + turn, ended_at=1_767_000_001.0 + offset + turn
            ),
            original_request=request,
            original_response=claude_code_response(turn, seed=offset),
        )
        for turn, request in enumerate(requests)
    ]


# -- alternatives, measured in memory -----------------------------------------------------------


def alternative_ratios(requests: list[bytes]) -> dict[str, float]:
    last = len(requests[-1])
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    ratios = {
        "whole bodies": sum(map(len, requests)) / last,
        "zstd per body": sum(len(compressor.compress(body)) for body in requests) / last,
    }
    for period in (10, 25):
        total = 0
        for turn, body in enumerate(requests):
            if turn % period == 0:
                total += len(compressor.compress(body))
            else:
                dictionary = zstandard.ZstdCompressionDict(
                    requests[turn - 1], dict_type=zstandard.DICT_TYPE_RAWCONTENT
                )
                total += len(zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=dictionary).compress(body))
        ratios[f"zstd, previous turn as dictionary, full copy every {period}"] = total / last
    for average in (1024, 2048, 4096, 8192, 16384):
        cdc = FastCDC(average, min_size=average // 4, max_size=average * 8)
        stored: dict[bytes, int] = {}
        manifests = 0
        for body in requests:
            cut = list(cdc.cut_buf(body))
            manifests += ID_BYTES * len(cut)
            for chunk in cut:
                digest = hashlib.sha256(chunk.data).digest()
                if digest not in stored:
                    stored[digest] = len(compressor.compress(chunk.data)) + len(digest)
        ratios[f"chunks avg {average} B + zstd (content + manifests)"] = (
            sum(stored.values()) + manifests
        ) / last
    return ratios


# -- CPU per body -------------------------------------------------------------------------------


def cpu_costs(requests: list[bytes], repeat: int) -> dict[str, float]:
    splitter = Splitter()
    first = requests[0]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        splitter.split(first, {})
        samples.append(time.perf_counter() - start)
    records = session_records(requests, "cpu")
    preparer = Preparer()
    prepare_first = []
    for _ in range(repeat):
        start = time.perf_counter()
        preparer.prepare_batch(records[:1], ChunkCache(), 0)
        prepare_first.append(time.perf_counter() - start)
    start = time.perf_counter()
    cache = ChunkCache()
    for record in records:
        batch = preparer.prepare_batch([record], cache, 0)
        cache.remember({digest: 0 for item in batch.records for digest in item.pieces}, 0)
    session_avg = (time.perf_counter() - start) / len(records)
    return {
        "cut+hash of the 1st request (µs)": statistics.median(samples) * 1e6,
        "bytes of the 1st request": float(len(first)),
        "prepare the 1st record, cold cache (µs)": statistics.median(prepare_first) * 1e6,
        "prepare per record over the session, warm cache (µs)": session_avg * 1e6,
        "average request bytes over the session": statistics.mean(map(len, requests)),
    }


# -- the real store -----------------------------------------------------------------------------


async def write_all(url: str, records: list[TransactionRecord]) -> float:
    engine = create_engine(DatabaseSettings(url=url))
    await upgrade(engine)
    writer = RecordWriter(engine, queue_size=len(records) + 1)
    writer.start()
    start = time.perf_counter()
    for record in records:
        writer.submit(record)
    await writer.flush()
    elapsed = time.perf_counter() - start
    await writer.close()
    assert writer.stats.written == len(records), writer.stats
    await engine.dispose()
    return elapsed


async def content_bytes(url: str) -> tuple[int, int]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        content = int(
            await conn.scalar(select(func.sum(func.length(chunks.c.data) + func.length(chunks.c.digest))))
            or 0
        )
        manifests = int(await conn.scalar(select(func.sum(func.length(bodies.c.manifest)))) or 0)
    await engine.dispose()
    return content, manifests


def sqlite_file_size(path: Path) -> int:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path.stat().st_size


async def postgres_database() -> str | None:
    name = f"luthien_bench_{uuid.uuid4().hex[:10]}"
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return name


async def drop_postgres_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


async def store_measurements(requests: list[bytes], sessions: int) -> dict[str, Any]:
    last = len(requests[-1])
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "records.db"
        url = f"sqlite:///{path}"
        engine = create_engine(DatabaseSettings(url=url))
        await upgrade(engine)
        await engine.dispose()
        empty = sqlite_file_size(path)
        elapsed = await write_all(url, session_records(requests, "s0"))
        content, manifests = await content_bytes(url)
        results["sqlite: database file growth / last request"] = (sqlite_file_size(path) - empty) / last
        results["content store (chunks + manifests) / last request"] = (content + manifests) / last
        results["sqlite: write one session, records/s"] = len(requests) / elapsed
        many = [
            record
            for index in range(1, sessions + 1)
            for record in session_records(requests, f"s{index}", index)
        ]
        elapsed = await write_all(url, many)
        results[f"sqlite: write {sessions} more sessions, records/s"] = len(many) / elapsed
        results[f"sqlite: write {sessions} more sessions, MB of request bodies/s"] = (
            sum(len(r.original_request) for r in many) / elapsed / 1e6
        )
        results[f"sqlite: database file / last request, {sessions + 1} sessions"] = (
            sqlite_file_size(path) / last
        )
    name = await postgres_database()
    if name is None:
        results["postgresql"] = "unreachable: skipped"
        return results
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    try:
        elapsed = await write_all(url, session_records(requests, "s0"))
        content, manifests = await content_bytes(url)
        results["postgresql: content store / last request"] = (content + manifests) / last
        results["postgresql: write one session, records/s"] = len(requests) / elapsed
        many = [
            record
            for index in range(1, sessions + 1)
            for record in session_records(requests, f"s{index}", index)
        ]
        elapsed = await write_all(url, many)
        results[f"postgresql: write {sessions} more sessions, records/s"] = len(many) / elapsed
    finally:
        await drop_postgres_database(name)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100, help="turns in the session (default 100)")
    parser.add_argument("--sessions", type=int, default=5, help="further sessions for throughput (default 5)")
    parser.add_argument("--repeat", type=int, default=200, help="repeats of the CPU measurements")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    requests = claude_code_session(args.turns)
    report: dict[str, Any] = {
        "turns": args.turns,
        "last request bytes": len(requests[-1]),
        "chunk average bytes (shipped)": CHUNK_AVG_BYTES,
        "storage / last request, alternatives": alternative_ratios(requests),
        "cpu": cpu_costs(requests, args.repeat),
        "store": asyncio.run(store_measurements(requests, args.sessions)),
    }
    for section, values in report.items():
        if isinstance(values, dict):
            print(f"\n{section}")
            for key, value in values.items():
                shown = f"{value:,.2f}" if isinstance(value, float) else value
                print(f"  {key:<70} {shown}")
        else:
            print(f"{section}: {values}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
