"""Running a response through the pipeline: wire bytes → events → policy stage → events → wire bytes.

Streaming: upstream chunks are cut into SSE frames, decoded into events, passed through the stage,
and encoded (an unchanged event is its original bytes). The stream always ends well-formed: if the
upstream is cut, goes idle, or stops before its terminal event, or the policy fails closed, the client
gets the API's own error event after whatever was already sent.

Non-streaming: the whole body is one event through the same stage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import orjson

from luthien.pipeline.events import DONE, WireEvent
from luthien.pipeline.stage import ResponseStage
from luthien.policy.runner import PolicyFailure
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import UNREADABLE, WireApi, readable_by_clients, response_event
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.sse import SSEParser, terminated

INCOMPLETE_STREAM_MESSAGE = "upstream ended the stream before it was complete"
POLICY_FAILURE_MESSAGE = "the call was stopped because policy {name!r} failed"


async def _decode(api: WireApi, chunks: AsyncIterator[bytes]) -> AsyncIterator[WireEvent]:
    parser = SSEParser()
    async for chunk in chunks:
        for frame in parser.feed(chunk):
            yield api.decode(frame)
    trailing = parser.finish()
    if trailing is not None:
        event = api.decode(trailing)
        if not trailing.raw.strip(b"\r\n"):
            yield event  # trailing line breaks: forwarded as they came
        elif event.data is not None or event.type == DONE:
            # A final frame missing only its blank line is complete: send it terminated, in its own
            # line breaks. A fragment (no data, or data that is not JSON) is the remains of a cut
            # frame: drop it, so the error event that follows starts on a frame boundary.
            yield dataclasses.replace(event, raw=terminated(trailing.raw))


async def run_stream(
    api: WireApi, chunks: AsyncIterator[bytes], stage: ResponseStage
) -> AsyncIterator[bytes]:
    """Yield the bytes to send the client for an upstream SSE body.

    Args:
        api: the client's API (decodes, encodes, knows the terminal event and error shape).
        chunks: the upstream body as it arrives; may raise `UpstreamStreamError`.
        stage: the policy stage.

    Raises:
        PolicyFailure: the policy failed closed before anything was sent (the caller answers with
            an error response instead of a stream).
        GatewayError: UPSTREAM_TIMEOUT when the upstream sent no body byte within the first-byte
            timeout (nothing was sent either: the caller answers 504).
    """
    last: WireEvent | None = None
    complete = False
    sent_any = False
    try:
        async for event in stage.process(_decode(api, chunks)):
            yield api.encode(event)
            sent_any = True
            if event.data is not None:
                last = event
            complete = complete or api.is_terminal(event)
    except UpstreamStreamError as error:
        if error.before_body and not sent_any:
            raise GatewayError(error.kind, error.message) from error
        if not complete:
            for event in api.stream_error(error.kind, error.message, last):
                yield api.encode(event)
        return
    except PolicyFailure as failure:
        if not sent_any:
            raise
        if not complete:
            message = POLICY_FAILURE_MESSAGE.format(name=failure.policy_name)
            for event in api.stream_error(ErrorKind.POLICY, message, last):
                yield api.encode(event)
        return
    if not complete:
        for event in api.stream_error(ErrorKind.UPSTREAM_STREAM, INCOMPLETE_STREAM_MESSAGE, last):
            yield api.encode(event)


async def run_body(api: WireApi, body: bytes, stage: ResponseStage) -> bytes:
    """The bytes to send the client for a whole (non-streaming) upstream body.

    Raises:
        PolicyFailure: the policy failed closed.
        GatewayError: the body is JSON a client reads but Luthien cannot, and the policy inspects it.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        if not readable_by_clients(body):
            return body  # not JSON: nothing a policy (or a client) could read; forwarded untouched
        # JSON a client reads but Luthien cannot: the stage refuses it unless no policy looks.
        return api.encode(await stage.process_body(WireEvent(UNREADABLE, None, None, body)))
    return api.encode(await stage.process_body(response_event(body, data)))
