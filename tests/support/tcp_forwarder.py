"""A loopback TCP forwarder the tests switch on and off, standing in for a database going away.

The machine's PostgreSQL is shared with other agents and must keep running, so "PostgreSQL stopped"
is this forwarder stopped: new connections are refused and open ones are cut.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.engine import make_url

from tests.support.ports import free_port


class TcpForwarder:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port` while started."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if server is not None:
            await server.wait_closed()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            self._tasks.discard(task)
            return
        self._writers.update((client_writer, upstream_writer))
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
            )
        finally:
            for writer in (client_writer, upstream_writer):
                writer.transport.abort()
                self._writers.discard(writer)
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


def through_forwarder(url: str) -> tuple[TcpForwarder, str]:
    """A forwarder (not started) to the server of database `url`, and the URL that goes through it."""
    target = make_url(url)
    forwarder = TcpForwarder(target.host or "127.0.0.1", target.port or 5432)
    return forwarder, target.set(port=forwarder.port).render_as_string(hide_password=False)
