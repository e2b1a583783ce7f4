"""HTTP to upstream providers over one pooled aiohttp session.

Failures are translated into `GatewayError`s before any response bytes reach the client
(connection refused → 502, timeout → 504) and into `UpstreamStreamError`s once a body is being
read, so the pipeline can end a started stream with a proper error event. Each request runs under
its `UpstreamTimeouts` (connect, first byte, idle; `luthien.upstream.timeouts`); a timeout closes
the upstream connection. At the end of a shutdown's grace period `cut_in_flight` fails every
exchange still running the same way (`SHUTTING_DOWN`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Protocol, cast

import aiohttp
from multidict import CIMultiDict
from opentelemetry.trace import Span
from yarl import URL

from luthien.observability.tracing import upstream_span
from luthien.settings import Settings
from luthien.upstream.deadline import Deadline
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

    The first body byte must arrive by the first-byte deadline; after it, each chunk within
    `timeouts.idle_s` of asking for it. Both are enforced by the exchange's one `Deadline`.
    """

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        timeouts: UpstreamTimeouts,
        first_byte_deadline: float,
        client: UpstreamClient,
        deadline: Deadline,
    ) -> None:
        self._response = response
        self._client = client
        self._timeouts = timeouts
        self._first_byte_deadline: float | None = first_byte_deadline
        self._deadline = deadline
        self.status = response.status
        self.headers: list[tuple[str, str]] = list(response.headers.items())

    async def _next_chunk(self) -> bytes:
        """The next body bytes (b"" at the end), within the first-byte or the idle timeout.

        Raises:
            UpstreamStreamError: UPSTREAM_TIMEOUT when the timeout expired, UPSTREAM_STREAM when
                the connection broke.
        """
        first = self._first_byte_deadline
        deadline = self._deadline
        try:
            if first is not None:
                chunk = await deadline.wait(self._response.content.readany(), first)
                self._first_byte_deadline = None
            else:
                when = deadline.time() + self._timeouts.idle_s
                chunk = await deadline.wait(self._response.content.readany(), when)
        except TimeoutError as error:
            if first is not None:
                message = (
                    f"upstream sent nothing within {self._timeouts.first_byte_s:g} s (first-byte timeout)"
                )
            else:
                message = f"upstream stream went silent for {self._timeouts.idle_s:g} s (idle timeout)"
            raise UpstreamStreamError(
                ErrorKind.UPSTREAM_TIMEOUT, message, before_body=first is not None
            ) from error
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
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive.

        Raises:
            UpstreamStreamError: the connection was cut, or a timeout expired.
        """
        while chunk := await self._next_chunk():
            yield chunk


class Outcome(Protocol):
    """Told how an exchange went (a circuit breaker's `Attempt`)."""

    def answered(self, status: int) -> None:
        """The upstream answered with `status`."""
        ...

    def failed(self) -> None:
        """The upstream could not be reached or did not answer in time."""
        ...

    def release(self) -> None:
        """The exchange is over."""
        ...


_UPSTREAM_FAILURES = frozenset({ErrorKind.UPSTREAM_UNAVAILABLE, ErrorKind.UPSTREAM_TIMEOUT})
"""The `GatewayError`s an exchange raises when the upstream could not be reached (breaker failures)."""


class UpstreamExchange:
    """One request to an upstream, as an async context manager yielding its `UpstreamResponse`.

    Made by `UpstreamClient.request`; see there. One object per call (no generator-based context
    managers stacked per layer): entering sends the request and waits for the headers, leaving
    releases or closes the connection and reports to the `Outcome`, if any.
    """

    __slots__ = (
        "_body",
        "_client",
        "_deadline",
        "_headers",
        "_method",
        "_outcome",
        "_response",
        "_span",
        "_span_scope",
        "_timeouts",
        "_url",
    )

    def __init__(
        self,
        client: UpstreamClient,
        method: str,
        url: str,
        headers: CIMultiDict[str],
        body: bytes | None,
        timeouts: UpstreamTimeouts,
        outcome: Outcome | None,
    ) -> None:
        self._client = client
        self._method = method
        self._url = url
        self._headers = headers
        self._body = body
        self._timeouts = timeouts
        self._outcome = outcome
        self._response: aiohttp.ClientResponse | None = None
        self._deadline: Deadline | None = None
        self._span_scope: contextlib.AbstractContextManager[Span | None] | None = None

    async def __aenter__(self) -> UpstreamResponse:
        try:
            return await self._open()
        except BaseException as error:
            outcome = self._outcome
            if outcome is not None:
                if isinstance(error, GatewayError) and error.kind in _UPSTREAM_FAILURES:
                    outcome.failed()
                outcome.release()
            raise

    async def _open(self) -> UpstreamResponse:
        client = self._client
        if client.cut:
            raise GatewayError(ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE)
        session = client.session
        timeouts = self._timeouts
        deadline = self._deadline = Deadline()
        first_byte_deadline = deadline.time() + timeouts.first_byte_s
        span_scope = upstream_span(self._method, self._url, self._headers)
        span = span_scope.__enter__()
        self._span_scope = span_scope
        try:
            client.awaiting_headers.add(deadline)
            try:
                # encoded=True: forward the client's query string exactly (no re-quoting of %2F and such).
                # No redirects: following one would send the client's credentials to another host.
                response = await deadline.wait(
                    session.request(
                        self._method,
                        URL(self._url, encoded=True),
                        headers=self._headers,
                        data=self._body,
                        allow_redirects=False,
                        timeout=client.request_timeout(timeouts),
                    ),
                    first_byte_deadline,
                )
            finally:
                client.awaiting_headers.discard(deadline)
        except (aiohttp.ClientError, TimeoutError) as error:
            deadline.close()
            kind, message = client.classify(error, timeouts)
            gateway_error = GatewayError(kind, message)
            _leave_span(span_scope, gateway_error)
            raise gateway_error from error
        except BaseException as error:
            deadline.close()
            _leave_span(span_scope, error)
            raise
        if span is not None:
            span.set_attribute("http.response.status_code", response.status)
        if self._outcome is not None:
            self._outcome.answered(response.status)
        self._response = response
        client.in_flight.add(response)
        return UpstreamResponse(response, timeouts, first_byte_deadline, client, deadline)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Only reached after `__aenter__` succeeded: the response, deadline and span are set.
        response = cast(aiohttp.ClientResponse, self._response)
        self._client.in_flight.discard(response)
        # close() drops a half-read connection instead of returning it to the pool.
        if response.content.at_eof():
            response.release()
        else:
            response.close()
        cast(Deadline, self._deadline).close()
        if self._outcome is not None:
            self._outcome.release()
        _leave_span(cast(contextlib.AbstractContextManager[Span | None], self._span_scope), exc)


def _leave_span(scope: contextlib.AbstractContextManager[Span | None], error: BaseException | None) -> None:
    if error is None:
        scope.__exit__(None, None, None)
    else:
        scope.__exit__(type(error), error, error.__traceback__)


class UpstreamClient:
    """Owns the connection pool; `start()` and `close()` bracket the server's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self.default_timeouts = UpstreamTimeouts.from_settings(settings)
        self.cut = False
        """Set by `cut_in_flight`: every exchange fails with `SHUTTING_DOWN` from then on."""
        self.in_flight: set[aiohttp.ClientResponse] = set()
        """Responses being read (`cut_in_flight` fails them)."""
        self.awaiting_headers: set[Deadline] = set()
        """Exchanges waiting for their response's headers (`cut_in_flight` ends the wait)."""
        self._request_timeouts: dict[float, aiohttp.ClientTimeout] = {}

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
        for waiting in list(self.awaiting_headers):
            # Its first-byte deadline, moved to now: the wait ends as a timeout, reported as the cut.
            waiting.expire()
        for response in self.in_flight:
            response.content.set_exception(aiohttp.ClientConnectionError(SHUTDOWN_MESSAGE))

    def classify(self, error: BaseException, timeouts: UpstreamTimeouts) -> tuple[ErrorKind, str]:
        """The error kind and message for an exchange that failed before the response headers."""
        if self.cut:
            return ErrorKind.SHUTTING_DOWN, SHUTDOWN_MESSAGE
        return _classify(error, timeouts)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session (raises `RuntimeError` before `start()`)."""
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not called")
        return self._session

    def request_timeout(self, timeouts: UpstreamTimeouts) -> aiohttp.ClientTimeout:
        """The `aiohttp` timeout of a request: its connect timeout (first byte and idle are ours)."""
        timeout = self._request_timeouts.get(timeouts.connect_s)
        if timeout is None:
            timeout = self._request_timeouts[timeouts.connect_s] = aiohttp.ClientTimeout(
                total=None, connect=timeouts.connect_s
            )
        return timeout

    def request(
        self,
        method: str,
        url: str,
        headers: CIMultiDict[str],
        body: bytes | None = None,
        timeouts: UpstreamTimeouts | None = None,
        outcome: Outcome | None = None,
    ) -> UpstreamExchange:
        """Send a request and yield the response once its headers arrive (`async with`).

        Leaving the context (normally, by error, by a timeout, or by cancellation when the client
        disconnects) closes the upstream connection unless the body was read to the end. With tracing
        on, the request is a span and carries its `traceparent` (`luthien.observability.tracing`).

        Args:
            method: the HTTP method.
            url: the full upstream URL (its query string is sent as it is).
            headers: the headers to send.
            body: the request body.
            timeouts: this call's timeouts; the global settings' when omitted.
            outcome: told the answer's status, or a failure to reach the upstream, and the end
                of the exchange (a circuit breaker's `Attempt`).

        Raises:
            GatewayError: UPSTREAM_UNAVAILABLE or UPSTREAM_TIMEOUT before headers arrived;
                SHUTTING_DOWN once `cut_in_flight` ran.
        """
        return UpstreamExchange(self, method, url, headers, body, timeouts or self.default_timeouts, outcome)
