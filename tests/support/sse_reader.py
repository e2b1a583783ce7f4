"""Reading a Server-Sent Events stream in a background thread, frame by frame (for tests)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

GUARD_S = 30.0
"""How long to wait for a frame; never reached when the code under test works."""


@dataclass
class Frame:
    """One SSE frame: an event (`id`, `event`, parsed `data`) or a comment."""

    id: str | None = None
    event: str | None = None
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    comment: str | None = None


class SSEReader:
    """Connects on `start()`; frames arrive in `frames`. Stops after the next frame once `stop()`."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.frames: queue.Queue[Frame] = queue.Queue()
        self.status: int | None = None
        self.content_type = ""
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SSEReader:
        self._thread.start()
        assert self._connected.wait(GUARD_S), "the stream never started"
        return self

    def _run(self) -> None:
        with httpx.stream("GET", self.url, headers=self.headers, timeout=GUARD_S) as response:
            self.status = response.status_code
            self.content_type = response.headers.get("content-type", "")
            frame = Frame()
            for line in response.iter_lines():
                if not self._connected.is_set() and (
                    line.startswith("retry:") or response.status_code != 200
                ):
                    self._connected.set()
                if line == "":
                    if frame.event is not None or frame.comment is not None:
                        self.frames.put(frame)
                    frame = Frame()
                    if self._stopping.is_set():
                        return
                elif line.startswith(":"):
                    frame.comment = line[1:].strip()
                elif line.startswith("id:"):
                    frame.id = line[3:].strip()
                elif line.startswith("event:"):
                    frame.event = line[6:].strip()
                elif line.startswith("data:"):
                    frame.data = json.loads(line[5:].strip())
            self._connected.set()

    def next_matching(self, predicate: Callable[[Frame], bool]) -> Frame:
        """The next frame that satisfies `predicate` (earlier frames are discarded)."""
        while True:
            frame = self.frames.get(timeout=GUARD_S)
            if predicate(frame):
                return frame

    def stop(self) -> None:
        """End the connection after the next frame (keep-alives make one come soon)."""
        self._stopping.set()
        self._thread.join(GUARD_S)
