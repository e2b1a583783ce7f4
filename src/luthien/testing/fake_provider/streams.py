"""The fake provider's count of streaming replies in progress, which tests wait on."""

from __future__ import annotations

import threading


class StreamTracker:
    """Counts streaming replies in progress and remembers whether the latest one has ended."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = 0
        self._latest = 0
        self._latest_closed = False
        self._seen_since_reset = False

    @property
    def open(self) -> int:
        """The number of streaming replies being sent."""
        with self._cond:
            return self._open

    def begin(self) -> int:
        """A streaming reply starts; returns its id (it is now the latest)."""
        with self._cond:
            self._open += 1
            self._latest += 1
            self._latest_closed = False
            self._seen_since_reset = True
            return self._latest

    def end(self, stream_id: int) -> None:
        """The streaming reply `stream_id` ended (sent, cut, or its peer left)."""
        with self._cond:
            self._open -= 1
            if stream_id == self._latest:
                self._latest_closed = True
            self._cond.notify_all()

    def reset(self) -> None:
        """Forget the streams so far: `wait_latest_closed` waits for a new one."""
        with self._cond:
            self._seen_since_reset = False

    def wait_latest_closed(self, timeout: float) -> bool:
        """Whether the latest stream since `reset` ended within `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._seen_since_reset and self._latest_closed, timeout)
