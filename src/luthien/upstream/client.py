"""HTTP to upstream providers over one pooled aiohttp session.

Failures are translated into `GatewayError`s before any response bytes reach the client
(connection refused → 502, timeout → 504) and into `UpstreamStreamError`s once a body is being
read, so the pipeline can end a started stream with a proper error event. At the end of a shutdown's
grace period `cut_in_flight` fails every exchange still running the same way (`SHUTTING_DOWN`).
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
from luthien.wire.errors import ErrorKind, GatewayError

# Seconds a resolved upstream address is reused before it is looked up again.
_DNS_CACHE_TTL_S = 300
SHUTDOWN_MESSAGE = "Luthien is shutting down and its grace period for calls in flight is over"


class UpstreamStreamError(Exception):
    """The upstream failed while its body was being read (cut connection, idle timeout)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _classify(error: BaseException) -> tuple[ErrorKind, str]:
    # aiohttp's ServerTimeoutError and ConnectionTimeoutError are TimeoutError subclasses.
    if isinstance(error, TimeoutError):
        return ErrorKind.UPSTREAM_TIMEOUT, "upstream did not answer in time"
    return ErrorKind.UPSTREAM_UNAVAILABLE, f"upstream connection failed ({type(error).__name__})"


class UpstreamResponse:
    """An upstream answer whose headers have arrived; the body is read on demand."""

    def __init__(self, response: aiohttp.ClientResponse, client: UpstreamClient) -> None:
        self._response = response
        self._client = client
        self.status = response.status
        self.headers: list[tuple[str, str]] = list(response.headers.items())

    @property
    def is_event_stream(self) -> bool:
        """Whether the upstream answered with server-sent events."""
        return self._response.content_type == "text/event-stream"

    async def read(self) -> bytes:
        """The whole body.

        Raises:
            GatewayError: the upstream failed while sending it.
        """
        try:
            return await self._response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            kind, message = self._client.classify(error)
            raise GatewayError(kind, message) from error

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive.

        Raises:
            UpstreamStreamError: the connection was cut or went idle past the read timeout.
        """
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as error:
            kind, message = self._client.classify(error)
            if kind is ErrorKind.SHUTTING_DOWN:
                raise UpstreamStreamError(kind, message) from error
            if kind is ErrorKind.UPSTREAM_TIMEOUT:
                raise UpstreamStreamError(kind, "upstream stream went idle past the read timeout") from error
            raise UpstreamStreamError(
                ErrorKind.UPSTREAM_STREAM, "upstream connection was cut before the stream completed"
            ) from error


class UpstreamClient:
    """Owns the connection pool; `start()` and `close()` bracket the server's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._cut = False
        self._in_flight: set[aiohttp.ClientResponse] = set()
        self._awaiting_headers: set[asyncio.Future[aiohttp.ClientResponse]] = set()

    async def start(self) -> None:
        """Open the pool (must run inside the server's event loop)."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._settings.upstream_max_connections, ttl_dns_cache=_DNS_CACHE_TTL_S
            ),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=self._settings.upstream_connect_timeout_s,
                sock_read=self._settings.upstream_read_timeout_s,
            ),
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
        self._cut = True
        for sending in self._awaiting_headers:
            sending.cancel()
        for response in self._in_flight:
            response.content.set_exception(aiohttp.ClientConnectionError(SHUTDOWN_MESSAGE))

    def classify(self, error: BaseException) -> tuple[ErrorKind, str]:
        """The error kind and message for a failed upstream exchange."""
        if self._cut:
            return ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE
        return _classify(error)

    @asynccontextmanager
    async def request(
        self, method: str, url: str, headers: CIMultiDict[str], body: bytes | None = None
    ) -> AsyncGenerator[UpstreamResponse]:
        """Send a request and yield the response once its headers arrive.

        Leaving the context (normally, by error, or by cancellation when the client disconnects)
        closes the upstream connection unless the body was read to the end. With tracing on, the
        request is a span and carries its `traceparent` (`luthien.observability.tracing`).

        Raises:
            GatewayError: UPSTREAM_UNAVAILABLE or UPSTREAM_TIMEOUT before headers arrived;
                SHUTTING_DOWN once `cut_in_flight` ran.
        """
        if self._cut:
            raise GatewayError(ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE)
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not called")
        with upstream_span(method, url, headers) as span:
            # encoded=True: forward the client's query string exactly (no re-quoting of %2F and such).
            # No redirects: following one would send the client's credentials to another host.
            # A task of its own, so `cut_in_flight` can end the wait for headers without cancelling
            # the call.
            sending = asyncio.ensure_future(
                self._session.request(
                    method, URL(url, encoded=True), headers=headers, data=body, allow_redirects=False
                )
            )
            self._awaiting_headers.add(sending)
            try:
                response = await sending
            except (aiohttp.ClientError, TimeoutError) as error:
                kind, message = self.classify(error)
                raise GatewayError(kind, message) from error
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if self._cut and current is not None and not current.cancelling():
                    raise GatewayError(ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE) from None
                sending.cancel()
                raise
            finally:
                self._awaiting_headers.discard(sending)
            if span is not None:
                span.set_attribute("http.response.status_code", response.status)
            self._in_flight.add(response)
            try:
                yield UpstreamResponse(response, self)
            finally:
                self._in_flight.discard(response)
                # close() drops a half-read connection instead of returning it to the pool.
                if response.content.at_eof():
                    response.release()
                else:
                    response.close()
