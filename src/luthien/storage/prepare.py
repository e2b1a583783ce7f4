"""Turning records into what the writer inserts: rows, body manifests to be, and new chunks.

This is the writer's CPU work (cutting, hashing and compressing bodies; extracting search text). It
runs in a worker thread so the event loop serving calls keeps going; hashing and compression release
the GIL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from luthien.records.model import TransactionRecord
from luthien.storage.chunk_store import ChunkCache
from luthien.storage.content import Codec, SplitBody, Splitter
from luthien.storage.extract import extract
from luthien.storage.rows import event_rows, record_bodies, shadow_rows, transaction_row


@dataclass(slots=True)
class PreparedRecord:
    """One record ready to insert.

    Attributes:
        record: the record.
        row: its `transactions` row.
        events: its `events` rows, without `transaction_pk`.
        shadows: its `shadows` rows, without `transaction_pk`.
        bodies: its bodies as chunk digests, by `bodies.kind`.
        pieces: every chunk of its bodies, digest to bytes.
    """

    record: TransactionRecord
    row: dict[str, Any]
    events: list[dict[str, Any]]
    shadows: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    bodies: list[tuple[int, SplitBody]] = field(default_factory=list[tuple[int, SplitBody]])
    pieces: dict[bytes, memoryview] = field(default_factory=dict[bytes, memoryview])


@dataclass(slots=True)
class PreparedBatch:
    """Records ready to insert, and the stored form of the chunks they may need to insert.

    Attributes:
        records: the records, in order.
        compressed: each distinct chunk the cache does not vouch for, compressed (digest to bytes).
        rejected: records that cannot be stored (e.g. event data that is not JSON), with the error.
    """

    records: list[PreparedRecord]
    compressed: dict[bytes, bytes]
    rejected: list[tuple[TransactionRecord, Exception]]


class Preparer:
    """Prepares records for insertion. Use from one thread at a time."""

    def __init__(self) -> None:
        self._splitter = Splitter()
        self._codec = Codec()

    def prepare(self, record: TransactionRecord) -> PreparedRecord:
        """`record` as a row and chunk digests."""
        prepared = PreparedRecord(
            record=record,
            row=transaction_row(record, extract(record)),
            events=event_rows(record.events),
            shadows=shadow_rows(record.shadows),
        )
        for kind, body in record_bodies(record):
            prepared.bodies.append((kind, self._splitter.split(body, prepared.pieces)))
        return prepared

    def prepare_batch(
        self, records: Sequence[TransactionRecord], cache: ChunkCache, day: int
    ) -> PreparedBatch:
        """`records` prepared; chunks the cache does not vouch for on `day` are compressed once each."""
        prepared: list[PreparedRecord] = []
        rejected: list[tuple[TransactionRecord, Exception]] = []
        for record in records:
            try:
                prepared.append(self.prepare(record))
            except Exception as error:  # one malformed record (e.g. data that is not JSON) fails alone
                rejected.append((record, error))
        compressed: dict[bytes, bytes] = {}
        for item in prepared:
            for digest, data in item.pieces.items():
                if digest not in compressed and cache.fresh(digest, day) is None:
                    compressed[digest] = self._codec.compress(data)
        return PreparedBatch(records=prepared, compressed=compressed, rejected=rejected)
