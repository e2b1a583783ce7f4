"""`MemoryRecordSink`: the most recent records in memory, for tests, tools and storage-less runs.

A `RecordSink` bounded by a record count and by the bytes of the bodies it holds (the oldest fall
out first). `get` reads one back; `wait` blocks a thread other than the server's until a record
arrives (tests drive a real server from their own thread, and the recorder submits a record only
after the client has its whole answer).
"""

from __future__ import annotations

import threading
from collections import deque

from luthien.records.model import TransactionRecord

DEFAULT_CAPACITY = 1_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def body_bytes(record: TransactionRecord) -> int:
    """Bytes of the bodies a record holds (its shadows' included)."""
    bodies = [record.original_request, record.final_request, record.original_response, record.final_response]
    for shadow in record.shadows:
        bodies += [shadow.final_request, shadow.final_response]
    return sum(len(body) for body in bodies if body is not None)


class MemoryRecordSink:
    """A bounded in-memory `RecordSink`."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Keep at most `capacity` records whose bodies total at most `max_bytes` (the newest one always)."""
        self._records: deque[TransactionRecord] = deque()
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0
        self._arrived = threading.Condition()

    def submit(self, record: TransactionRecord) -> None:
        """Keep `record`, dropping the oldest past the bounds; never blocks on I/O, never raises."""
        with self._arrived:
            self._records.append(record)
            self._bytes += body_bytes(record)
            while len(self._records) > 1 and (
                len(self._records) > self._capacity or self._bytes > self._max_bytes
            ):
                self._bytes -= body_bytes(self._records.popleft())
            self._arrived.notify_all()

    @property
    def records(self) -> list[TransactionRecord]:
        """The kept records, oldest first."""
        with self._arrived:
            return list(self._records)

    def get(self, transaction_id: str) -> TransactionRecord | None:
        """The kept record of `transaction_id`, if any."""
        with self._arrived:
            return next((r for r in reversed(self._records) if r.transaction_id == transaction_id), None)

    def wait(self, transaction_id: str, timeout: float) -> TransactionRecord | None:
        """The record of `transaction_id`, waiting up to `timeout` seconds for it (call off the loop).

        Returns:
            The record, or None when it did not arrive in time.
        """
        with self._arrived:
            self._arrived.wait_for(lambda: self.get(transaction_id) is not None, timeout)
        return self.get(transaction_id)
