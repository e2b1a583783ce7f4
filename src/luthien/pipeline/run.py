"""Running a response through the pipeline: wire bytes → events → policy stage → events → wire bytes.

Streaming: upstream chunks are cut into SSE frames, decoded into events, passed through the stage,
and encoded (an unchanged event is its original bytes). The stream always ends well-formed: if the
upstream is cut, goes idle, or stops before its terminal event, or the policy fails closed, the client
gets the API's own error event after whatever was already sent.

Non-streaming: the whole body is one event through the same stage.

A translated call (`upstream_api` another API than the client's) has its frames parsed in the
upstream's API (its framing, `[DONE]`, terminal events) and its output written and ended in the
client's (its terminal, its in-stream error); the stage translates (`pipeline.stage`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import orjson

from luthien.pipeline.stage import ResponseStage, TranslationStage
from luthien.policy.runner import PolicyFailure
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import UNREADABLE, WireApi, readable_by_clients, response_event
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.events import DONE, WireEvent
from luthien.wire.sse import SSEParser, terminated

INCOMPLETE_STREAM_MESSAGE = "upstream ended the stream before it was complete"
POLICY_FAILURE_MESSAGE = "the call was stopped because policy {name!r} failed"
UNTRANSLATABLE_BODY_MESSAGE = "upstream answered with a body that is not JSON, which Luthien cannot translate"


def _trailing(api: WireApi, parser: SSEParser) -> WireEvent | None:
    """The event to send for what the parser holds once the upstream body ended (None: nothing)."""
    trailing = parser.finish()
    if trailing is None:
        return None
    event = api.decode(trailing)
    if not trailing.raw.strip(b"\r\n"):
        return event  # trailing line breaks: forwarded as they came
    if event.data is not None or event.type == DONE:
        # A final frame missing only its blank line is complete: send it terminated, in its own
        # line breaks. A fragment (no data, or data that is not JSON) is the remains of a cut
        # frame: drop it, so the error event that follows starts on a frame boundary.
        return dataclasses.replace(event, raw=terminated(trailing.raw))
    return None


async def _decode(api: WireApi, chunks: AsyncIterator[bytes]) -> AsyncIterator[WireEvent]:
    parser = SSEParser()
    async for chunk in chunks:
        for frame in parser.feed(chunk):
            yield api.decode(frame)
    event = _trailing(api, parser)
    if event is not None:
        yield event


class _StreamState:
    """What `run_stream` knows of the stream sent so far: enough to end it well-formed."""

    __slots__ = ("complete", "last", "sent_any")

    def __init__(self) -> None:
        self.last: WireEvent | None = None
        self.complete = False
        self.sent_any = False

    def sent(self, api: WireApi, event: WireEvent) -> None:
        self.sent_any = True
        if event.data is not None:
            self.last = event
        if not self.complete:
            self.complete = api.is_terminal(event)


async def _unchanged(api: WireApi, chunks: AsyncIterator[bytes], state: _StreamState) -> AsyncIterator[bytes]:
    """The frames of each upstream read as one piece of bytes, for a stage that changes nothing.

    Every frame goes out as the bytes it came in, so the frames one read completed are joined and
    sent in one write, instead of one write (a `send()` syscall) per event.
    """
    parser = SSEParser()
    async for chunk in chunks:
        frames = parser.feed(chunk)
        if not frames:
            continue
        for frame in frames:
            state.sent(api, api.decode(frame))
        yield frames[0].raw if len(frames) == 1 else b"".join([frame.raw for frame in frames])
    event = _trailing(api, parser)
    if event is not None:
        state.sent(api, event)
        yield api.encode(event)


async def _through_stage(
    api: WireApi,
    upstream_api: WireApi,
    chunks: AsyncIterator[bytes],
    stage: ResponseStage,
    state: _StreamState,
) -> AsyncIterator[bytes]:
    """Each event the stage yields (from frames parsed in the upstream's API), encoded."""
    async for event in stage.process(_decode(upstream_api, chunks)):
        yield api.encode(event)
        state.sent(api, event)


def _translating(stage: ResponseStage, api: WireApi, upstream_api: WireApi) -> ResponseStage:
    """`stage`, or a translating one in its place when it would pass another API's bytes through."""
    if stage.passes_through and upstream_api is not api:
        return TranslationStage(api, upstream_api)
    return stage


async def run_stream(
    api: WireApi, chunks: AsyncIterator[bytes], stage: ResponseStage, upstream_api: WireApi | None = None
) -> AsyncIterator[bytes]:
    """Yield the bytes to send the client for an upstream SSE body.

    Args:
        api: the client's API (encodes, knows the terminal event and error shape).
        chunks: the upstream body as it arrives; may raise `UpstreamStreamError`.
        stage: the policy stage (one that translates, when `upstream_api` is another API).
        upstream_api: the upstream's API (parses the frames); None: the client's.

    Raises:
        PolicyFailure: the policy failed closed before anything was sent (the caller answers with
            an error response instead of a stream).
        GatewayError: UPSTREAM_TIMEOUT when the upstream sent no body byte within the first-byte
            timeout (nothing was sent either: the caller answers 504).
    """
    state = _StreamState()
    upstream_api = upstream_api or api
    stage = _translating(stage, api, upstream_api)
    if stage.passes_through:
        pieces = _unchanged(api, chunks, state)
    else:
        pieces = _through_stage(api, upstream_api, chunks, stage, state)
    try:
        async for piece in pieces:
            yield piece
    except UpstreamStreamError as error:
        if error.before_body and not state.sent_any:
            raise GatewayError(error.kind, error.message) from error
        if not state.complete:
            for event in api.stream_error(error.kind, error.message, state.last):
                yield api.encode(event)
        return
    except PolicyFailure as failure:
        if not state.sent_any:
            raise
        if not state.complete:
            message = POLICY_FAILURE_MESSAGE.format(name=failure.policy_name)
            for event in api.stream_error(ErrorKind.POLICY, message, state.last):
                yield api.encode(event)
        return
    if not state.complete:
        for event in api.stream_error(ErrorKind.UPSTREAM_STREAM, INCOMPLETE_STREAM_MESSAGE, state.last):
            yield api.encode(event)


async def run_body(
    api: WireApi, body: bytes, stage: ResponseStage, upstream_api: WireApi | None = None
) -> bytes:
    """The bytes to send the client for a whole (non-streaming) upstream body.

    Args:
        api: the client's API.
        body: the upstream's body.
        stage: the policy stage (one that translates, when `upstream_api` is another API).
        upstream_api: the upstream's API; None: the client's.

    Raises:
        PolicyFailure: the policy failed closed.
        GatewayError: the body is JSON a client reads but Luthien cannot, and the policy inspects it
            (or the call is translated); UPSTREAM_UNAVAILABLE for a translated body that is not JSON.
    """
    if upstream_api is not None:
        stage = _translating(stage, api, upstream_api)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        if not readable_by_clients(body):
            if upstream_api is not None and upstream_api is not api:
                raise GatewayError(ErrorKind.UPSTREAM_UNAVAILABLE, UNTRANSLATABLE_BODY_MESSAGE) from None
            return body  # not JSON: nothing a policy (or a client) could read; forwarded untouched
        # JSON a client reads but Luthien cannot: the stage refuses it unless no policy looks.
        return api.encode(await stage.process_body(WireEvent(UNREADABLE, None, None, body)))
    return api.encode(await stage.process_body(response_event(body, data)))
