"""HTTP to upstream providers over one pooled aiohttp session.

Failures are translated into `GatewayError`s before any response bytes reach the client
(connection refused → 502, timeout → 504) and into `UpstreamStreamError`s once a body is being
read, so the pipeline can end a started stream with a proper error event. Each request runs under
its `UpstreamTimeouts` (connect, first byte, idle; `luthien.upstream.timeouts`); a timeout closes
the upstream connection. At the end of a shutdown's grace period `cut_in_flight` fails every
exchange still running the same way (`SHUTTING_DOWN`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from luthien.observability.tracing import upstream_span
from luthien.settings import Settings
from luthien.upstream.timeouts import UpstreamTimeouts
from luthien.wire.errors import ErrorKind, GatewayError

# Seconds a resolved upstream address is reused before it is looked up again.
_DNS_CACHE_TTL_S = 300
SHUTDOWN_MESSAGE = "Luthien is shutting down and its grace period for calls in flight is over"


class UpstreamStreamError(Exception):
    """The upstream failed while its body was being read (cut connection, idle timeout).

    Attributes:
        kind: UPSTREAM_TIMEOUT, UPSTREAM_STREAM, or SHUTTING_DOWN (`UpstreamClient.cut_in_flight`).
        message: what happened, for the client.
        before_body: True when not one body byte had arrived (the first-byte timeout expired).
    """

    def __init__(self, kind: ErrorKind, message: str, before_body: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.before_body = before_body


def _classify(error: BaseException, timeouts: UpstreamTimeouts) -> tuple[ErrorKind, str]:
    # aiohttp's ConnectionTimeoutError is a TimeoutError subclass, as is asyncio's timeout.
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return ErrorKind.UPSTREAM_TIMEOUT, f"upstream could not be reached within {timeouts.connect_s:g} s"
    if isinstance(error, TimeoutError):
        return (
            ErrorKind.UPSTREAM_TIMEOUT,
            f"upstream did not answer within {timeouts.first_byte_s:g} s (first-byte timeout)",
        )
    return ErrorKind.UPSTREAM_UNAVAILABLE, f"upstream connection failed ({type(error).__name__})"


class UpstreamResponse:
    """An upstream answer whose headers have arrived; the body is read on demand.

    The first body byte must arrive by `first_byte_deadline` (event-loop time); after it, each
    chunk within `timeouts.idle_s` of the previous one.
    """

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        timeouts: UpstreamTimeouts,
        first_byte_deadline: float,
        client: UpstreamClient,
    ) -> None:
        self._response = response
        self._client = client
        self._timeouts = timeouts
        self._deadline: float | None = first_byte_deadline
        self.status = response.status
        self.headers: list[tuple[str, str]] = list(response.headers.items())

    async def _next_chunk(self) -> bytes:
        """The next body bytes (b"" at the end), within the first-byte or the idle timeout.

        Raises:
            UpstreamStreamError: UPSTREAM_TIMEOUT when the timeout expired, UPSTREAM_STREAM when
                the connection broke.
        """
        first = self._deadline is not None
        try:
            if self._deadline is not None:
                async with asyncio.timeout_at(self._deadline):
                    chunk = await self._response.content.readany()
                self._deadline = None
            else:
                async with asyncio.timeout(self._timeouts.idle_s):
                    chunk = await self._response.content.readany()
        except TimeoutError as error:
            if first:
                message = (
                    f"upstream sent nothing within {self._timeouts.first_byte_s:g} s (first-byte timeout)"
                )
            else:
                message = f"upstream stream went silent for {self._timeouts.idle_s:g} s (idle timeout)"
            raise UpstreamStreamError(ErrorKind.UPSTREAM_TIMEOUT, message, before_body=first) from error
        except aiohttp.ClientError as error:
            if self._client.cut:
                raise UpstreamStreamError(ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE) from error
            raise UpstreamStreamError(
                ErrorKind.UPSTREAM_STREAM, "upstream connection was cut before the stream completed"
            ) from error
        return chunk

    @property
    def is_event_stream(self) -> bool:
        """Whether the upstream answered with server-sent events."""
        return self._response.content_type == "text/event-stream"

    async def read(self) -> bytes:
        """The whole body.

        Raises:
            GatewayError: the upstream failed or timed out while sending it.
        """
        parts: list[bytes] = []
        try:
            while chunk := await self._next_chunk():
                parts.append(chunk)
        except UpstreamStreamError as error:
            kind = error.kind
            if kind is ErrorKind.UPSTREAM_STREAM:
                kind = ErrorKind.UPSTREAM_UNAVAILABLE
            raise GatewayError(kind, error.message) from error
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive.

        Raises:
            UpstreamStreamError: the connection was cut, or a timeout expired.
        """
        while chunk := await self._next_chunk():
            yield chunk


class UpstreamClient:
    """Owns the connection pool; `start()` and `close()` bracket the server's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self.default_timeouts = UpstreamTimeouts.from_settings(settings)
        self.cut = False
        """Set by `cut_in_flight`: every exchange fails with `SHUTTING_DOWN` from then on."""
        self._in_flight: set[aiohttp.ClientResponse] = set()
        self._awaiting_headers: set[asyncio.Timeout] = set()

    async def start(self) -> None:
        """Open the pool (must run inside the server's event loop)."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._settings.upstream_max_connections, ttl_dns_cache=_DNS_CACHE_TTL_S
            ),
            # Each request passes its own connect timeout; first-byte and idle are timed here.
            timeout=aiohttp.ClientTimeout(total=None, connect=self.default_timeouts.connect_s),
            # Forward exactly the client's headers: no aiohttp User-Agent or cookies of our own.
            skip_auto_headers=("User-Agent",),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def cut_in_flight(self) -> None:
        """End every upstream exchange still running: the shutdown grace period is over.

        Each call waiting for an upstream's headers or reading a response fails with `SHUTTING_DOWN`
        (an error answer, or the API's error event mid-stream) and drops its connection, so it ends
        and is recorded like any other failed call instead of being cancelled half-way; calls that
        have not reached the upstream yet are refused the same way.
        """
        self.cut = True
        for waiting in self._awaiting_headers:
            # Its first-byte deadline, moved to now: the wait ends as a timeout, reported as the cut.
            waiting.reschedule(0)
        for response in self._in_flight:
            response.content.set_exception(aiohttp.ClientConnectionError(SHUTDOWN_MESSAGE))

    def classify(self, error: BaseException, timeouts: UpstreamTimeouts) -> tuple[ErrorKind, str]:
        """The error kind and message for an exchange that failed before the response headers."""
        if self.cut:
            return ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE
        return _classify(error, timeouts)

    @asynccontextmanager
    async def request(
        self,
        method: str,
        url: str,
        headers: CIMultiDict[str],
        body: bytes | None = None,
        timeouts: UpstreamTimeouts | None = None,
    ) -> AsyncGenerator[UpstreamResponse]:
        """Send a request and yield the response once its headers arrive.

        Leaving the context (normally, by error, by a timeout, or by cancellation when the client
        disconnects) closes the upstream connection unless the body was read to the end. With tracing
        on, the request is a span and carries its `traceparent` (`luthien.observability.tracing`).

        Args:
            method: the HTTP method.
            url: the full upstream URL (its query string is sent as it is).
            headers: the headers to send.
            body: the request body.
            timeouts: this call's timeouts; the global settings' when omitted.

        Raises:
            GatewayError: UPSTREAM_UNAVAILABLE or UPSTREAM_TIMEOUT before headers arrived;
                SHUTTING_DOWN once `cut_in_flight` ran.
        """
        if self.cut:
            raise GatewayError(ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE)
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not called")
        timeouts = timeouts or self.default_timeouts
        first_byte_deadline = asyncio.get_running_loop().time() + timeouts.first_byte_s
        with upstream_span(method, url, headers) as span:
            try:
                # encoded=True: forward the client's query string exactly (no re-quoting of %2F and such).
                # No redirects: following one would send the client's credentials to another host.
                async with asyncio.timeout_at(first_byte_deadline) as waiting:
                    self._awaiting_headers.add(waiting)
                    try:
                        response = await self._session.request(
                            method,
                            URL(url, encoded=True),
                            headers=headers,
                            data=body,
                            allow_redirects=False,
                            timeout=aiohttp.ClientTimeout(total=None, connect=timeouts.connect_s),
                        )
                    finally:
                        self._awaiting_headers.discard(waiting)
            except (aiohttp.ClientError, TimeoutError) as error:
                kind, message = self.classify(error, timeouts)
                raise GatewayError(kind, message) from error
            if span is not None:
                span.set_attribute("http.response.status_code", response.status)
            self._in_flight.add(response)
            try:
                yield UpstreamResponse(response, timeouts, first_byte_deadline, self)
            finally:
                self._in_flight.discard(response)
                # close() drops a half-read connection instead of returning it to the pool.
                if response.content.at_eof():
                    response.release()
                else:
                    response.close()
