"""Watching a streamed answer for the keep-alives Luthien sends while a policy holds it.

`WatchingTransport` is an httpx transport for the official SDKs: it splits each streamed body into SSE
frames as the client reads it and sets an event once it has seen `count` keep-alives, so a test can
hold the judge until the client has seen them (an event, not a timing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx2
import orjson

KEEPALIVE_S = 0.02
"""The keep-alive interval the tests configure: short, so keep-alives come at once."""
KEEPALIVES = {"anthropic": b'event: ping\ndata: {"type": "ping"}\n\n', "openai": b": keepalive\n\n"}
"""The keep-alive frame of each API family."""


class FrameWatcher(httpx2.SyncByteStream):
    """Passes a response body on, splitting it into SSE frames; sets `seen` after `count` keep-alives."""

    def __init__(
        self, inner: httpx2.SyncByteStream, keepalive: bytes, seen: threading.Event, count: int
    ) -> None:
        self.inner = inner
        self.keepalive = keepalive
        self.seen = seen
        self.count = count
        self.frames: list[bytes] = []
        self._buffer = b""

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self._buffer += chunk
            while b"\n\n" in self._buffer:
                frame, self._buffer = self._buffer.split(b"\n\n", 1)
                self.frames.append(frame + b"\n\n")
            if sum(frame == self.keepalive for frame in self.frames) >= self.count:
                self.seen.set()
            yield chunk

    def close(self) -> None:
        self.inner.close()


class WatchingTransport(httpx2.HTTPTransport):
    """An httpx transport that watches every streamed response body with a `FrameWatcher`."""

    def __init__(self, keepalive: bytes, seen: threading.Event, count: int = 2) -> None:
        super().__init__()
        self.keepalive = keepalive
        self.seen = seen
        self.count = count
        self.watchers: list[FrameWatcher] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx2.SyncByteStream)
        watcher = FrameWatcher(response.stream, self.keepalive, self.seen, self.count)
        self.watchers.append(watcher)
        response.stream = watcher
        return response


def assert_keepalives_between_frames(watcher: FrameWatcher, keepalive: bytes) -> None:
    """At least two keep-alives, none before the first frame, and every frame whole."""
    frames = watcher.frames
    assert frames[0] != keepalive  # none before the stream started
    assert sum(frame == keepalive for frame in frames) >= 2
    # Every frame is whole: data frames parse, keep-alives are exactly the API's frame.
    for frame in frames:
        if frame != keepalive:
            data = [line[5:].strip() for line in frame.split(b"\n") if line.startswith(b"data:")]
            assert data, frame
            if data != [b"[DONE]"]:
                orjson.loads(b"\n".join(data))
