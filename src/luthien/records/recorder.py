"""`TransactionRecorder`: collects one model call while it runs and turns it into a `TransactionRecord`.

The gateway feeds it as the call goes (`request`, `forwarded`, `upstream_answered`, the upstream's
chunks or body, the bytes sent to the client, `failed`) and calls `finish` once the call is over:
answered, failed, or abandoned by the client. While bytes flow it only keeps references to chunks
and their send times; parsing, stream assembly, comparing versions and deciding the status happen
in `finish`, after the client already has its answer. `finish` hands the record to the `RecordSink`
and publishes `transaction.completed`; `transaction.started` and one `transaction.activity` per
activity event go out live.

The response versions are rebuilt by `luthien.records.responses`; how the call ended (its error,
its first output's time) is read by `luthien.records.outcome`; the status is decided by
`luthien.records.status`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any

from luthien.activity.log import ActivityEvent, ActivitySink, CallActivity
from luthien.events.bus import TRANSACTION_ACTIVITY, TRANSACTION_COMPLETED, TRANSACTION_STARTED, EventBus
from luthien.records.bounded import TRUNCATED_EVENT, BoundedChunks
from luthien.records.content import usage_of
from luthien.records.model import (
    RecordedEvent,
    RecordSink,
    ShadowResult,
    Timing,
    TransactionRecord,
)
from luthien.records.observer import CallObserver, FinishedCall
from luthien.records.outcome import call_error, clipped_error, ended_whole, first_token_at
from luthien.records.responses import rebuild_responses
from luthien.records.secrets import Scrubber, header_secrets, safe_headers, scrub_shadow
from luthien.records.session import session_id
from luthien.records.status import call_status
from luthien.records.summary import activity_summary, summarize, summary_fields
from luthien.wire.formats import WireFormat

logger = logging.getLogger("luthien.records")

Completion = Callable[[TransactionRecord], Awaitable[tuple[ShadowResult, ...]]]
"""Work that adds shadow results to a finished record (`luthien.shadow`)."""
Spawn = Callable[[Coroutine[Any, Any, None], str], None]
"""Runs a coroutine as a tracked background task (`BackgroundTasks.spawn`)."""


class TransactionRecorder:
    """Collects one model call; see the module docstring for the order of calls."""

    def __init__(
        self,
        transaction_id: str,
        client_api: str,
        endpoint: str,
        headers: list[tuple[str, str]],
        *,
        sink: RecordSink | None,
        bus: EventBus | None,
        activity_log: ActivitySink,
        received_at: float | None = None,
        max_response_bytes: int | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        """Start recording a call.

        Args:
            transaction_id: the call's id.
            client_api: the API the client speaks (`WireApi.name`).
            endpoint: the request path.
            headers: the client's headers, names lower-case (credentials are never kept).
            sink: where the finished record goes (None: recording is off; events are still published).
            bus: where live events go (None: none are published).
            activity_log: the process-wide log the call's activity events are forwarded to.
            received_at: when the request arrived (seconds since the epoch; default now).
            max_response_bytes: bytes of each side of the response kept for the record
                (`luthien.records.bounded`); None: all of it.
            observer: told of the call's start and, with its record, of its end (metrics, tracing).
        """
        self.transaction_id = transaction_id
        self.client_api = client_api
        self.endpoint = endpoint
        self._received_at = time.time() if received_at is None else received_at
        self._headers = headers
        self._sink = sink
        self._bus = bus
        self._observer = observer
        self.activity = CallActivity(activity_log, self._publish_activity if bus is not None else None)
        self._scrubber = Scrubber()
        self._scrubber.add(*header_secrets(headers))
        self._started = False
        self._finished = False
        # Request side.
        self._request = b""
        self._request_body: Mapping[str, Any] | None = None
        self._model: str | None = None
        self._session_id: str | None = None
        self._policy: str | None = None
        self._final_request: bytes | None = None
        # A translated call's request in the client's API after `on_request` (None: not translated).
        self._policy_request: bytes | None = None
        self._upstream: str | None = None
        # The API of the upstream's answer: the client's, unless the call was translated.
        self._upstream_api = client_api
        self._streaming = False
        # Upstream side.
        self._upstream_first_byte_at: float | None = None
        self._upstream_status: int | None = None
        self._upstream_complete: bool | None = None
        self._upstream_streamed = False
        self._upstream_chunks = BoundedChunks(max_response_bytes)
        self._upstream_body_seen = False
        # Client side.
        self._http_status: int | None = None
        self._client_streamed = False
        # What the client got is read from the upstream's side while it is the same bytes.
        self._client_chunks = BoundedChunks(max_response_bytes, mirror=self._upstream_chunks)
        # Send time of each chunk in `_client_chunks`'s head: unboxed doubles (8 bytes, not a float
        # object and a pointer: 32), since an open stream holds one per chunk until it ends.
        self._client_times = array("d")
        self._complete_at: float | None = None
        self._error: str | None = None
        self._completion: tuple[Completion, Spawn] | None = None
        if observer is not None:
            observer.call_started(endpoint)

    # -- while the call runs ------------------------------------------------------------------------

    def policy(self, name: str) -> None:
        """The policy instance that serves the call."""
        self._policy = name

    def request(self, body: bytes, parsed: Mapping[str, Any] | None, wire_format: WireFormat) -> None:
        """The client's request body (and its parse, None when invalid); publishes `transaction.started`."""
        self._request = body
        self._request_body = parsed
        if parsed is not None:
            model = parsed.get("model")
            self._model = model if isinstance(model, str) else None
            self._streaming = parsed.get("stream") is True
        self._session_id = session_id(self._headers, parsed, wire_format)
        self._publish_started()

    def forwarded(
        self,
        body: bytes,
        upstream: str,
        upstream_key: str | None,
        upstream_api: str | None = None,
        policy_request: bytes | None = None,
    ) -> None:
        """The call goes to `upstream` with `body` (kept only if it differs from the client's).

        `upstream_key`, the provider key Luthien sends in proxy mode, is scrubbed from the record.
        `upstream_api` (a `WireApi.name`) is given for a translated call: the original response is
        read, and its usage counted, in that API. `policy_request` is given when `body` is not the
        request after `on_request` (a translated call, or an output limit lowered to the upstream's
        cap): that request, in the client's API, which says whether a policy changed it.
        """
        self._final_request = body
        self._policy_request = policy_request
        self._upstream = upstream
        self._scrubber.add(upstream_key)
        if upstream_api is not None:
            self._upstream_api = upstream_api

    def upstream_answered(self, status: int, streaming: bool) -> None:
        """The upstream's response headers arrived."""
        self._upstream_first_byte_at = time.time()
        self._upstream_status = status
        self._upstream_streamed = streaming
        self._streaming = streaming

    async def upstream_stream(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`chunks` (the upstream's stream), keeping a reference to each as it passes."""
        kept = self._upstream_chunks
        async for chunk in chunks:
            kept.add(chunk)
            yield chunk

    def upstream_body(self, body: bytes) -> None:
        """The upstream's whole (non-streaming or error) body."""
        self._upstream_body_seen = True
        self._upstream_chunks.add(body)

    def response_started(self, status: int, streaming: bool) -> None:
        """The response to the client began with `status`."""
        self._http_status = status
        self._client_streamed = streaming
        if streaming and self._observer is not None:
            self._observer.stream_started(self.endpoint)

    def response_body(self, chunk: bytes, more: bool) -> None:
        """Bytes sent to the client; `more` False marks the response complete."""
        now = time.time()
        if chunk:
            kept = self._client_chunks.chunks
            self._client_chunks.add(chunk)
            if self._client_chunks.chunks > kept:
                self._client_times.append(now)
        if not more:
            self._complete_at = now

    def complete_later(self, completion: Completion, spawn: Spawn) -> None:
        """Have `finish` hand the record on only once `completion` added its shadow results.

        `completion` runs in a task started with `spawn`, so neither the client nor `finish` waits.
        """
        self._completion = (completion, spawn)

    def failed(self, message: str) -> None:
        """The call failed (the client gets an error); `message` says why."""
        self._error = clipped_error(message)

    # -- after the call ------------------------------------------------------------------------------

    def finish(self) -> TransactionRecord | None:
        """Build the record, hand it to the sink and observer, publish `transaction.completed`; never raises.

        Returns:
            The record; None when nothing consumes it (no sink, bus or observer), or when it could
            not be built (logged).
        """
        if self._finished:
            return None
        self._finished = True
        if self._sink is None and self._bus is None and self._observer is None:
            return None
        try:
            record, original_message = self._build()
        except Exception:
            logger.exception("could not build the record of transaction %s", self.transaction_id)
            self._observe(None)
            return None
        if self._completion is None:
            self._deliver(record, original_message)
        else:
            completion, spawn = self._completion
            spawn(
                self._deliver_later(record, original_message, completion),
                f"luthien-record-{self.transaction_id}",
            )
        self._observe(record)
        return record

    def _deliver(self, record: TransactionRecord, original_message: dict[str, Any] | None) -> None:
        """Hand the record to the sink and publish `transaction.completed`."""
        if self._sink is not None:
            self._sink.submit(record)
        if self._bus is not None:
            self._publish_started()
            summary = summarize(record, request_body=self._request_body, original_message=original_message)
            self._bus.publish(TRANSACTION_COMPLETED, self.transaction_id, summary_fields(summary))

    async def _deliver_later(
        self, record: TransactionRecord, original_message: dict[str, Any] | None, completion: Completion
    ) -> None:
        """Deliver the record with its shadow results; without them if they cannot be had."""
        try:
            shadows = await completion(record)
        except asyncio.CancelledError:
            self._deliver(record, original_message)  # stopped at shutdown: the record still counts
            raise
        except Exception:
            logger.exception("shadow results of transaction %s failed", self.transaction_id)
            shadows = ()
        self._deliver(
            dataclasses.replace(record, shadows=tuple(scrub_shadow(self._scrubber, s) for s in shadows)),
            original_message,
        )

    def _observe(self, record: TransactionRecord | None) -> None:
        if self._observer is None:
            return
        call = FinishedCall(
            endpoint=self.endpoint,
            streamed=self._client_streamed,
            record=record,
            upstream_status=self._upstream_status,
            upstream_stream_complete=self._upstream_complete,
        )
        try:
            self._observer.call_finished(call)
        except Exception:  # metrics or tracing must never fail a call's recording
            logger.exception("an observer failed on transaction %s", self.transaction_id)

    def _build(self) -> tuple[TransactionRecord, dict[str, Any] | None]:
        scrub = self._scrubber
        responses = rebuild_responses(
            self.client_api,
            upstream_api=self._upstream_api,
            client=self._client_chunks,
            client_streamed=self._client_streamed,
            upstream=self._upstream_chunks,
            upstream_streamed=self._upstream_streamed,
            upstream_body_seen=self._upstream_body_seen,
        )
        self._upstream_complete = responses.upstream_complete
        final_assembly = responses.final_assembly
        error = call_error(self._error, final_assembly, self._complete_at)
        final_request = None if self._final_request == self._request else self._final_request
        events = (
            *(
                RecordedEvent(event.type, scrub.scrub_value(event.data), event.policy, event.timestamp)
                for event in self.activity.events
            ),
            *(
                RecordedEvent(TRUNCATED_EVENT, side.event_data(name), None, self._complete_at or time.time())
                for name, side in (("upstream", self._upstream_chunks), ("client", self._client_chunks))
                if side.truncated
            ),
        )
        record = TransactionRecord(
            transaction_id=self.transaction_id,
            session_id=self._session_id,
            client_api=self.client_api,
            endpoint=self.endpoint,
            model=self._model,
            upstream=self._upstream,
            policy=self._policy,
            status=call_status(
                complete=self._complete_at is not None or ended_whole(final_assembly),
                error=error,
                http_status=self._http_status,
                events=events,
                request_changed=(
                    final_request is not None
                    if self._policy_request is None
                    else self._policy_request != self._request
                ),
                response_changed=responses.changed,
            ),
            http_status=self._http_status,
            streaming=self._streaming,
            timing=Timing(
                received_at=self._received_at,
                upstream_first_byte_at=self._upstream_first_byte_at,
                first_token_at=first_token_at(final_assembly, self._client_times, self._http_status),
                ended_at=self._complete_at or time.time(),
            ),
            usage=usage_of(self._upstream_api, responses.original_message),
            request_headers=safe_headers(self._headers),
            original_request=scrub.scrub(self._request),
            final_request=scrub.scrub_optional(final_request),
            original_response=scrub.scrub_optional(responses.original),
            final_response=scrub.scrub_optional(responses.final),
            events=events,
            error=None if error is None else scrub.scrub_text(error),
        )
        return record, responses.original_message

    # -- live events ---------------------------------------------------------------------------------

    def _publish_started(self) -> None:
        if self._bus is None or self._started:
            return
        self._started = True
        self._bus.publish(
            TRANSACTION_STARTED,
            self.transaction_id,
            {
                "model": self._model,
                "policy": self._policy,
                "client_api": self.client_api,
                "endpoint": self.endpoint,
                "session_id": self._session_id,
                "streaming": self._streaming,
            },
        )

    def _publish_activity(self, event: ActivityEvent) -> None:
        if self._bus is not None:
            self._publish_started()
            self._bus.publish(TRANSACTION_ACTIVITY, self.transaction_id, activity_summary(event))
