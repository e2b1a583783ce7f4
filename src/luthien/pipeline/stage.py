"""The policy stage of one call: where the response's wire events meet the policy.

A policy that inspects the response gets the normalized view: wire events are decoded by the
client API's codec, run through the policy's runner (hooks, holds, repair) and encoded back. A policy
that never looks at the response (noop, request-only policies) is skipped entirely: wire events go
out as the exact bytes that came in, without being decoded. Non-streaming bodies take the same path
as a one-shot sequence, so a policy has one code path.

An event or body that clients' JSON parsers read but Luthien's cannot (`UNREADABLE`), or output the
codec cannot interpret (`UnreadableOutput`, e.g. an unknown kind of tool call), is refused when the
policy inspects responses, since it would reach the client unread: the stream ends with the API's
error event, a body is answered 502.

A call whose upstream speaks another API than its client is always decoded (in the upstream's API)
and encoded (in the client's), through `luthien.translation.responses.codec_between`: with the
policy's runner when the policy inspects responses, else through the repairer alone
(`TranslationStage` for calls with no policy).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

from luthien.call.codec import CallCodec, UnreadableOutput
from luthien.call.events import CallEvent, MessageEnd
from luthien.call.repair import Repairer
from luthien.call.request import CallRequest
from luthien.policy.base import Policy, PolicyContext
from luthien.policy.runner import runner_for
from luthien.translation.responses import codec_between, wants_usage_chunk
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import UNREADABLE, WireApi
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.events import WireEvent

logger = logging.getLogger("luthien.translation")

UNREADABLE_MESSAGE = (
    "upstream sent JSON that Luthien cannot read (e.g. a lone surrogate escape), so no policy could check it"
)


class ResponseStage(Protocol):
    """What the pipeline runner needs from a stage."""

    @property
    def passes_through(self) -> bool:
        """Whether every event leaves exactly as it came (the runner then sends each read whole)."""
        ...

    def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """Yield the events to send for a streaming response's `events`."""
        ...

    async def process_body(self, body: WireEvent) -> WireEvent:
        """The body event to send for a whole response body."""
        ...


class PassThroughStage:
    """Every event goes out exactly as it came in (used for calls no policy sees, e.g. token counts)."""

    passes_through = True

    def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """The incoming events, unchanged."""
        return events

    async def process_body(self, body: WireEvent) -> WireEvent:
        """The body, unchanged."""
        return body


def codec_for(api: WireApi, upstream_api: WireApi | None = None) -> CallCodec:
    """A fresh codec for one call in `api`'s format (from an upstream of `upstream_api`'s, if other)."""
    return codec_between(upstream_api or api, api)


async def _iterate(events: Iterable[CallEvent]) -> AsyncIterator[CallEvent]:
    for event in events:
        yield event


EventProcess = Callable[[AsyncIterator[CallEvent]], AsyncIterator[CallEvent]]
"""What runs between decoding and encoding: a policy's runner, or the repairer alone."""


async def _decoded(codec: CallCodec, events: AsyncIterator[WireEvent]) -> AsyncIterator[CallEvent]:
    async for wire in events:
        if wire.type == UNREADABLE:
            raise UpstreamStreamError(ErrorKind.UPSTREAM_STREAM, UNREADABLE_MESSAGE)
        try:
            decoded_events = codec.decode(wire)
        except UnreadableOutput as error:
            raise UpstreamStreamError(ErrorKind.UPSTREAM_STREAM, str(error)) from error
        for event in decoded_events:
            yield event
    for event in codec.finish_decode():
        yield event


async def _normalized(
    codec: CallCodec, events: AsyncIterator[WireEvent], process: EventProcess
) -> AsyncIterator[WireEvent]:
    """Decode, `process`, encode."""
    async for event in process(_decoded(codec, events)):
        for wire in codec.encode(event):
            yield wire
    for wire in codec.finish_encode():
        yield wire


async def _normalized_body(codec: CallCodec, body: WireEvent, process: EventProcess) -> WireEvent:
    """Decode a whole body, `process` it, encode it."""
    if body.type == UNREADABLE:
        raise GatewayError(ErrorKind.UPSTREAM_UNAVAILABLE, UNREADABLE_MESSAGE)
    try:
        decoded = codec.decode_body(body)
    except UnreadableOutput as error:
        raise GatewayError(ErrorKind.UPSTREAM_UNAVAILABLE, str(error)) from error
    events = [event async for event in process(_iterate(decoded))]
    return codec.encode_body(events)


async def repaired(events: AsyncIterator[CallEvent]) -> AsyncIterator[CallEvent]:
    """`events` made well-formed by the repairer (no policy: for translation alone)."""
    repairer = Repairer(_report_repair)
    upstream_ended = False
    async for event in events:
        upstream_ended = upstream_ended or isinstance(event, MessageEnd)
        for fixed in repairer.feed(event):
            yield fixed
    for fixed in repairer.finish(upstream_ended):
        yield fixed


def _report_repair(kind: str, detail: dict[str, Any]) -> None:
    logger.debug("translation: repaired %s %s", kind, detail)


class TranslationStage:
    """A call no policy sees whose upstream speaks another API: translated, nothing else."""

    passes_through = False

    def __init__(self, client_api: WireApi, upstream_api: WireApi, usage_chunk: bool = True) -> None:
        """Set up the stage.

        Args:
            client_api: the client's API.
            upstream_api: the upstream's API.
            usage_chunk: whether a Chat client's stream ends with the usage chunk
                (`luthien.translation.responses.wants_usage_chunk` of its request).
        """
        self.client_api = client_api
        self.upstream_api = upstream_api
        self.usage_chunk = usage_chunk

    def _codec(self) -> CallCodec:
        return codec_between(self.upstream_api, self.client_api, usage_chunk=self.usage_chunk)

    def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """See `ResponseStage.process`."""
        return _normalized(self._codec(), events, repaired)

    async def process_body(self, body: WireEvent) -> WireEvent:
        """See `ResponseStage.process_body`."""
        return await _normalized_body(self._codec(), body, repaired)


class PolicyStage:
    """Applies one policy to one call, request and response."""

    def __init__(
        self, policy: Policy[Any], ctx: PolicyContext, api: WireApi, upstream_api: WireApi | None = None
    ) -> None:
        """Set up the stage.

        Args:
            policy: the policy.
            ctx: the call's context.
            api: the client's API.
            upstream_api: the upstream's API, when it is another (the response is translated).
                `self.upstream_api` is read only when the response comes, so the gateway may set it
                once routing (after `process_request`) has chosen the upstream.
        """
        self.policy = policy
        self.ctx = ctx
        self.api = api
        self.upstream_api = upstream_api or api
        self.runner = runner_for(policy, ctx)

    @property
    def passes_through(self) -> bool:
        """See `ResponseStage.passes_through`: a policy that never looks at a same-API response."""
        return not self.policy.inspects_response and self.upstream_api is self.api

    @property
    def holding(self) -> bool:
        """Whether the policy holds response content back right now (`pipeline/keepalive.py`)."""
        return self.runner.holding

    def _codec(self) -> CallCodec:
        """The call's codec; a Chat client gets the usage chunk only if its request asked for one."""
        request = self.ctx.request
        wanted = wants_usage_chunk(request.body if request is not None else None)
        return codec_between(self.upstream_api, self.api, usage_chunk=wanted)

    async def process_request(self, request: CallRequest) -> CallRequest:
        """The request to forward (raises `PolicyFailure` when the policy fails closed)."""
        return await self.runner.on_request(request)

    def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """See `ResponseStage.process`."""
        if self.passes_through:
            return events
        codec = self._codec()
        if not self.policy.inspects_response:
            return _normalized(codec, events, repaired)
        return _normalized(codec, events, self.runner.process)

    async def process_body(self, body: WireEvent) -> WireEvent:
        """See `ResponseStage.process_body`."""
        if self.passes_through:
            return body
        codec = self._codec()
        process = self.runner.process if self.policy.inspects_response else repaired
        return await _normalized_body(codec, body, process)
