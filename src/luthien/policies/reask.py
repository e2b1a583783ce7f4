"""Asking a model a call's own request again, not streaming, and reading its answer as blocks.

Shared by `defer_to_trusted` (the same request, to the trusted model) and the judge's resampling
(the same request, to the same model). The request is the one the policy passed on (after
`on_request`), sent whole in the client's API with `stream` off; the answer is decoded by that API's
codec into the normalized blocks a policy can send in place of the untrusted ones. No translation
between APIs exists yet, so the upstream asked must speak the client's API (`check_speaks`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.codec import UnreadableOutput
from luthien.call.events import Block, BlockComplete, BlockKind, MessageEnd, StopReason, ToolCall, Usage
from luthien.call.request import CallRequest
from luthien.pipeline.stage import codec_for
from luthien.policies.judging import reply_usage
from luthien.policy.base import PolicyContext
from luthien.upstream.caller import ModelCallError
from luthien.upstream.routing import Upstream
from luthien.wire.apis import WireApi
from luthien.wire.events import RESPONSE_BODY, WireEvent
from luthien.wire.formats import WireFormat

STREAM_ONLY_FIELDS = ("stream_options",)
"""Request fields that only make sense when streaming (OpenAI refuses `stream_options` otherwise)."""
FEATURE_HEADERS = ("anthropic-beta", "openai-beta")
"""The client's headers a re-asked request carries: they enable API features its body may use."""
SENDABLE_KINDS = frozenset({BlockKind.TEXT, BlockKind.TOOL_CALL})
"""Blocks of an answer that may be sent in place of another model's: thinking (signed by its own
model) and provider-specific blocks are left out."""


class ReaskError(Exception):
    """The model could not be asked, or its answer could not be read. `reason` says why, in a phrase.

    Attributes:
        reason: readable cause, e.g. `the upstream timed out`.
        code: `timeout`, `call_failed`, `unreadable`, `api_mismatch` or `no_request`.
    """

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class Answer:
    """A model's whole answer to the re-asked request.

    Attributes:
        blocks: its text and tool-call blocks, in order.
        end: its message end (stop reason, usage).
        body: the raw answer, as the upstream sent it.
        usage: token counts from the answer, if it reported them.
        latency_ms: how long the call took.
    """

    blocks: tuple[Block, ...]
    end: MessageEnd
    body: dict[str, Any]
    usage: Usage | None
    latency_ms: float

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The answer's tool calls, in order."""
        return [block.tool_call for block in self.blocks if block.tool_call is not None]

    def events(self) -> list[BlockComplete]:
        """The blocks as whole-block events to send (fresh events, not tied to the answer's bytes)."""
        return [BlockComplete(-1, block) for block in self.blocks]


def client_api(request: CallRequest) -> WireApi:
    """The client API of a request: Anthropic Messages, OpenAI Chat (has `messages`) or Responses."""
    if request.format is WireFormat.ANTHROPIC:
        return ANTHROPIC_MESSAGES
    return OPENAI_CHAT if "messages" in request.body else OPENAI_RESPONSES


def check_speaks(upstream: Upstream, request: CallRequest) -> None:
    """Refuse an upstream that does not serve the request's API (a re-asked call is not translated).

    Raises:
        ReaskError: `api_mismatch`.
    """
    api = client_api(request)
    if not upstream.serves(api):
        raise ReaskError(
            f"upstream {upstream.name!r} serves the {upstream.api.value} APIs and this call is in the "
            f"{api.name} API; translating between them is not supported for a re-asked call",
            "api_mismatch",
        )


def reask_body(request: CallRequest, model: str) -> dict[str, Any]:
    """The request body to send: the call's own, for `model`, not streaming."""
    body = {key: value for key, value in request.body.items() if key not in STREAM_ONLY_FIELDS}
    body["model"] = model
    body["stream"] = False
    return body


def feature_headers(ctx: PolicyContext) -> dict[str, str]:
    """The client's `FEATURE_HEADERS` this call carried."""
    return {name: ctx.client_headers[name] for name in FEATURE_HEADERS if name in ctx.client_headers}


def read_answer(api: WireApi, body: dict[str, Any], started: float) -> Answer:
    """Decode a whole answer in `api` into its sendable blocks and its end.

    Raises:
        ReaskError: `unreadable`: the answer has output the codec cannot interpret.
    """
    try:
        events = codec_for(api).decode_body(WireEvent(RESPONSE_BODY, body))
    except UnreadableOutput as error:
        raise ReaskError(f"the answer could not be read: {error}", "unreadable") from error
    blocks = tuple(
        event.block
        for event in events
        if isinstance(event, BlockComplete) and event.block.kind in SENDABLE_KINDS
    )
    # Every codec ends a decoded body with its message end; a plain end is only a safe default.
    end = next((event for event in events if isinstance(event, MessageEnd)), MessageEnd(StopReason.END_TURN))
    latency_ms = (time.monotonic() - started) * 1000
    return Answer(blocks, end, body, reply_usage(body), latency_ms)


async def reask(ctx: PolicyContext, upstream: Upstream | str, model: str, timeout_s: float) -> Answer:
    """Send the call's request (as the policy passed it on) to `model` on `upstream`; never streams.

    Args:
        ctx: the call's context: its request and model caller.
        upstream: the upstream, or its configured name.
        model: the model to ask.
        timeout_s: how long the whole answer may take.

    Raises:
        ReaskError: no request or caller in this context, an unknown upstream or one of another
            API, a failed or timed-out call, or an unreadable answer.
    """
    request = ctx.request
    if request is None or ctx.models is None:
        raise ReaskError("no upstream is reachable from this context", "no_request")
    if isinstance(upstream, str):
        try:
            upstream = ctx.models.upstream(upstream)
        except ModelCallError as error:
            raise ReaskError(error.reason, "call_failed") from error
    check_speaks(upstream, request)
    api = client_api(request)
    started = time.monotonic()
    try:
        reply = await asyncio.wait_for(
            ctx.models.send(upstream, api.path, reask_body(request, model), feature_headers(ctx)),
            timeout=timeout_s,
        )
    except TimeoutError as error:
        raise ReaskError(f"{model} did not answer within {timeout_s:g} s", "timeout") from error
    except ModelCallError as error:
        raise ReaskError(f"the call to {model} failed: {error.reason}", "call_failed") from error
    return read_answer(api, reply.body, started)


def describe_blocks(blocks: tuple[Block, ...], limit: int) -> list[dict[str, Any]]:
    """The blocks as JSON for an activity event (each text or arguments cut at `limit` characters)."""
    described: list[dict[str, Any]] = []
    for block in blocks:
        if block.tool_call is not None:
            call = block.tool_call
            described.append(
                {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments[:limit]}
            )
        else:
            described.append({"type": "text", "text": block.text[:limit]})
    return described


def stop_of(end: MessageEnd) -> str:
    """The stop reason to record: the provider's own, else the normalized one."""
    return end.provider_stop_reason or end.stop_reason.value
