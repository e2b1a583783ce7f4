"""One `send()` per event-loop turn per connection: uvicorn's httptools protocol with coalesced writes.

uvicorn writes a response's status line and headers as soon as the app sends `http.response.start`,
then each body message separately: a non-streaming answer was two `write` syscalls, a stream one
more than its body messages. On loopback, and in a VM, a syscall that also wakes the reader costs
more than everything Python does to build the bytes (docs/performance.md: the headers' `write` was
the largest single line of a profile). `CoalescingTransport` keeps what is written during one turn
of the event loop and writes it at the end of the turn in one piece, so the headers and the first
body bytes, or several events produced together, leave in one syscall. Nothing waits longer than
the current turn: the flush is the next callback the loop runs.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Wraps a transport: writes made in one event-loop turn go out as one write."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue `data`; the first write of a turn schedules the flush."""
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: list[bytes]) -> None:
        """Queue each of `lines`."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Write what is queued, in one piece (dropped if the connection is already closing)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if self._transport.is_closing():
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        """Write what is queued, then close."""
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        """Write what is queued, then half-close."""
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        """Drop what is queued and close at once."""
        self._pending = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        """Bytes queued here and in the transport."""
        return sum(len(data) for data in self._pending) + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, get_extra_info, pause_reading, ...) is the transport's own.
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a `CoalescingTransport` (pass as `http=`)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Wrap the connection's transport, then let uvicorn set the connection up."""
        wrapped: Any = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(wrapped)
