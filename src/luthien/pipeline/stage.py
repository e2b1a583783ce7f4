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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from luthien.call.anthropic import AnthropicCodec
from luthien.call.codec import CallCodec, UnreadableOutput
from luthien.call.events import CallEvent
from luthien.call.request import CallRequest
from luthien.pipeline.events import WireEvent
from luthien.policy.base import Policy, PolicyContext
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import ANTHROPIC_MESSAGES, OPENAI_CHAT, UNREADABLE, WireApi
from luthien.wire.errors import ErrorKind, GatewayError

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


def codec_for(api: WireApi) -> CallCodec:
    """A fresh codec for one call in `api`'s format."""
    if api is ANTHROPIC_MESSAGES:
        return AnthropicCodec()
    if api is OPENAI_CHAT:
        from luthien.call.openai_chat import OpenAIChatCodec

        return OpenAIChatCodec()
    from luthien.call.openai_responses import OpenAIResponsesCodec

    return OpenAIResponsesCodec()


async def _iterate(events: Iterable[CallEvent]) -> AsyncIterator[CallEvent]:
    for event in events:
        yield event


class PolicyStage:
    """Applies one policy to one call, request and response."""

    def __init__(self, policy: Policy[Any], ctx: PolicyContext, api: WireApi) -> None:
        self.policy = policy
        self.ctx = ctx
        self.api = api
        self.runner = policy.runner(ctx)

    @property
    def passes_through(self) -> bool:
        """See `ResponseStage.passes_through`: a policy that never looks at the response."""
        return not self.policy.inspects_response

    @property
    def holding(self) -> bool:
        """Whether the policy holds response content back right now (`pipeline/keepalive.py`)."""
        return self.runner.holding

    async def process_request(self, request: CallRequest) -> CallRequest:
        """The request to forward (raises `PolicyFailure` when the policy fails closed)."""
        return await self.runner.on_request(request)

    def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """See `ResponseStage.process`."""
        if not self.policy.inspects_response:
            return events
        return self._normalized(events)

    async def _normalized(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        codec = codec_for(self.api)

        async def decoded() -> AsyncIterator[CallEvent]:
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

        async for event in self.runner.process(decoded()):
            for wire in codec.encode(event):
                yield wire
        for wire in codec.finish_encode():
            yield wire

    async def process_body(self, body: WireEvent) -> WireEvent:
        """See `ResponseStage.process_body`."""
        if not self.policy.inspects_response:
            return body
        if body.type == UNREADABLE:
            raise GatewayError(ErrorKind.UPSTREAM_UNAVAILABLE, UNREADABLE_MESSAGE)
        codec = codec_for(self.api)
        try:
            decoded = codec.decode_body(body)
        except UnreadableOutput as error:
            raise GatewayError(ErrorKind.UPSTREAM_UNAVAILABLE, str(error)) from error
        events = [event async for event in self.runner.process(_iterate(decoded))]
        return codec.encode_body(events)
