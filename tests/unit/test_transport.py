"""`CoalescingTransport`: the writes of one event-loop turn leave as one write, nothing waits longer."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from luthien.gateway.transport import CoalescingTransport

pytestmark = pytest.mark.asyncio


class RecordingTransport:
    """Records what reaches the socket."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False
        self.events: list[str] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.events.append("close")
        self.closing = True

    def write_eof(self) -> None:
        self.events.append("eof")

    def abort(self) -> None:
        self.events.append("abort")
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def wrap() -> tuple[CoalescingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return CoalescingTransport(cast(Any, inner), asyncio.get_running_loop()), inner


async def test_writes_of_one_turn_leave_together_at_its_end() -> None:
    transport, inner = wrap()
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    transport.writelines([b"body", bytearray(b"!")])
    assert inner.writes == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody!") + 7
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody!"]
    transport.write(b"next turn")
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"next turn"]


async def test_close_and_eof_write_what_is_queued_first_abort_drops_it() -> None:
    transport, inner = wrap()
    transport.write(b"last")
    transport.write_eof()
    assert inner.writes == [b"last"]
    assert inner.events == ["eof"]
    transport.write(b"tail")
    transport.close()
    assert inner.writes == [b"last", b"tail"]
    assert inner.events == ["eof", "close"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert inner.writes == [b"last", b"tail"]
    dropped, dropped_inner = wrap()
    dropped.write(b"never")
    dropped.abort()
    await asyncio.sleep(0)
    assert dropped_inner.writes == []
    assert dropped_inner.events == ["abort"]


async def test_a_connection_closed_meanwhile_gets_nothing_more() -> None:
    transport, inner = wrap()
    transport.write(b"late")
    inner.closing = True  # the peer went away before the turn ended
    await asyncio.sleep(0)
    assert inner.writes == []


async def test_everything_else_is_the_transports_own() -> None:
    transport, _ = wrap()
    assert transport.get_extra_info("peername") == "info:peername"
    assert transport.is_closing() is False
