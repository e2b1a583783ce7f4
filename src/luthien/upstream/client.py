"""HTTP to upstream providers over one pooled aiohttp session.

Failures are translated into `GatewayError`s before any response bytes reach the client
(connection refused → 502, timeout → 504) and into `UpstreamStreamError`s once a body is being
read, so the pipeline can end a started stream with a proper error event.
"""

from __future__ import annotations

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

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
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
            kind, message = _classify(error)
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
            kind, _ = _classify(error)
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

    @asynccontextmanager
    async def request(
        self, method: str, url: str, headers: CIMultiDict[str], body: bytes | None = None
    ) -> AsyncGenerator[UpstreamResponse]:
        """Send a request and yield the response once its headers arrive.

        Leaving the context (normally, by error, or by cancellation when the client disconnects)
        closes the upstream connection unless the body was read to the end. With tracing on, the
        request is a span and carries its `traceparent` (`luthien.observability.tracing`).

        Raises:
            GatewayError: UPSTREAM_UNAVAILABLE or UPSTREAM_TIMEOUT before headers arrived.
        """
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not called")
        with upstream_span(method, url, headers) as span:
            try:
                # encoded=True: forward the client's query string exactly (no re-quoting of %2F and such).
                # No redirects: following one would send the client's credentials to another host.
                response = await self._session.request(
                    method, URL(url, encoded=True), headers=headers, data=body, allow_redirects=False
                )
            except (aiohttp.ClientError, TimeoutError) as error:
                kind, message = _classify(error)
                raise GatewayError(kind, message) from error
            if span is not None:
                span.set_attribute("http.response.status_code", response.status)
            try:
                yield UpstreamResponse(response)
            finally:
                # close() drops a half-read connection instead of returning it to the pool.
                if response.content.at_eof():
                    response.release()
                else:
                    response.close()
