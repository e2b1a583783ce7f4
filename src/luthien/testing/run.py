"""`run_policy`: one call through a policy, without a server, as the gateway would run it.

The upstream answer (a `ModelReply` from `luthien.testing.streams`) goes through the same pipeline
as in the server: SSE framing, the client API's codec, the policy's runner (hooks, holds, repair) and
the encoder. The result holds the bytes the client would receive, those bytes decoded back into
normalized events (what the client sees), the forwarded request, and the activity recorded.

```python
result = await run_policy(MyPolicy(MyConfig()), model_reply("openai_chat", "a sk-123 b", text_chunks=4))
assert result.text == "a [redacted] b"
assert result.records("policy.blocked") == []
```
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from luthien.activity.log import ActivityEvent, ActivityLog
from luthien.call.events import Block, BlockComplete, BlockKind, CallEvent, MessageEnd, StopReason, ToolCall
from luthien.call.request import CallRequest
from luthien.pipeline.run import run_body, run_stream
from luthien.pipeline.stage import PolicyStage, codec_for
from luthien.policy.base import Policy, PolicyContext
from luthien.testing.streams import ModelReply
from luthien.upstream.caller import ModelCaller
from luthien.wire.apis import response_event
from luthien.wire.sse import SSEParser

TRANSACTION_ID = "tx-test"
"""The transaction id of every `run_policy` call (activity events carry it)."""
REPAIRED_EVENT = "policy.repaired"
DEFAULT_MODELS = {"anthropic": "claude-sonnet-4-6", "openai_chat": "gpt-5", "openai_responses": "gpt-5"}
DEFAULT_PROMPT = "Hello"


@dataclass(slots=True)
class PolicyRun:
    """What one call through a policy produced.

    Attributes:
        reply: the upstream answer the policy was given.
        request: the request the policy forwarded (after `on_request`).
        frames: the client's bytes of a stream, one item per SSE frame (empty for a whole body).
        body: the client's bytes of a whole response (None for a stream).
        events: the client's bytes decoded back into normalized events: what the client sees.
        activity: every activity event the call recorded.
    """

    reply: ModelReply
    request: CallRequest
    frames: list[bytes]
    body: bytes | None
    events: list[CallEvent]
    activity: list[ActivityEvent] = field(default_factory=list[ActivityEvent])

    @property
    def raw(self) -> bytes:
        """Every byte the client receives."""
        return self.body if self.body is not None else b"".join(self.frames)

    @property
    def unchanged(self) -> bool:
        """Whether the client receives exactly the upstream's bytes."""
        return self.raw == self.reply.raw

    @property
    def blocks(self) -> list[Block]:
        """The content blocks the client receives, in order."""
        return [event.block for event in self.events if isinstance(event, BlockComplete)]

    @property
    def text(self) -> str:
        """The text of every text block, joined."""
        return "".join(block.text for block in self.blocks if block.kind is BlockKind.TEXT)

    @property
    def thinking(self) -> str:
        """The text of every thinking block, joined."""
        return "".join(block.text for block in self.blocks if block.kind is BlockKind.THINKING)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls the client receives."""
        return [block.tool_call for block in self.blocks if block.tool_call is not None]

    @property
    def stop_reason(self) -> StopReason | None:
        """The stop reason the client receives (None when the message never ended, e.g. an error)."""
        ends = [event for event in self.events if isinstance(event, MessageEnd)]
        return ends[-1].stop_reason if ends else None

    def records(self, type: str) -> list[ActivityEvent]:
        """The activity events of one type (e.g. `policy.blocked`)."""
        return [event for event in self.activity if event.type == type]

    @property
    def repairs(self) -> list[ActivityEvent]:
        """`policy.repaired` events: each one is a mistake in the policy's output."""
        return self.records(REPAIRED_EVENT)


def default_request(reply: ModelReply, tools: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A plain request body in `reply`'s API that asks for a stream when `reply` is one."""
    body: dict[str, Any] = {"model": DEFAULT_MODELS[reply.api], "stream": reply.streaming}
    if reply.api == "anthropic":
        body.update(max_tokens=1024, messages=[{"role": "user", "content": DEFAULT_PROMPT}])
    elif reply.api == "openai_chat":
        body["messages"] = [{"role": "user", "content": DEFAULT_PROMPT}]
    else:
        body["input"] = DEFAULT_PROMPT
    if tools:
        body["tools"] = list(tools)
    return body


async def _chunks(frames: Sequence[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


def _decoded(reply: ModelReply, frames: Sequence[bytes], body: bytes | None) -> list[CallEvent]:
    codec = codec_for(reply.wire_api)
    if body is not None:
        return codec.decode_body(response_event(body, orjson.loads(body)))
    parser = SSEParser()
    events: list[CallEvent] = []
    for frame in parser.feed(b"".join(frames)):
        events.extend(codec.decode(reply.wire_api.decode(frame)))
    events.extend(codec.finish_decode())
    return events


async def run_policy(
    policy: Policy[Any],
    reply: ModelReply,
    *,
    request: Mapping[str, Any] | None = None,
    models: ModelCaller | None = None,
) -> PolicyRun:
    """Run one call through `policy`: its request hook, then `reply` through its response hooks.

    Args:
        policy: the policy instance (built like the server builds it, e.g. `MyPolicy(MyConfig())`).
        reply: the upstream's answer; its API is the client's API.
        request: the client's request body (default: `default_request(reply)`).
        models: the upstream caller judges use (`ctx.models`), if the policy needs one.

    Raises:
        PolicyFailure: the policy raised under `on_error: fail` before anything was sent (the
            server answers with an error response). A failure mid-stream ends the stream with the
            API's error event instead, as the client would see it.
    """
    activity = ActivityLog()
    ctx = PolicyContext(TRANSACTION_ID, policy.name, activity, models)
    api = reply.wire_api
    body = dict(request) if request is not None else default_request(reply)
    stage = PolicyStage(policy, ctx, api)
    forwarded = await stage.process_request(CallRequest(api.format, body, orjson.dumps(body)))
    if reply.body is not None:
        out_body = await run_body(api, reply.body, stage)
        frames: list[bytes] = []
    else:
        out_body = None
        frames = [chunk async for chunk in run_stream(api, _chunks(reply.frames), stage)]
    events = _decoded(reply, frames, out_body)
    return PolicyRun(reply, forwarded, frames, out_body, events, activity.events(TRANSACTION_ID))


def run_policy_sync(
    policy: Policy[Any],
    reply: ModelReply,
    *,
    request: Mapping[str, Any] | None = None,
    models: ModelCaller | None = None,
) -> PolicyRun:
    """`run_policy` for synchronous tests (runs its own event loop)."""
    return asyncio.run(run_policy(policy, reply, request=request, models=models))


def load_policy(
    reference: str,
    config: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    policies: Mapping[str, Mapping[str, Any]] | None = None,
) -> Policy[Any]:
    """Build a policy the way the server builds it from a config entry.

    Args:
        reference: a registered short name (`string_replace`) or `module:Class`.
        config: the entry's `config` mapping.
        name: the instance name (default: the short name or the class name).
        policies: further entries (`{"name": {"class": ..., "config": ...}}`) a `chain` refers to.

    Raises:
        ConfigError: as `luthien check-config` would report it.
    """
    from luthien.config import LuthienConfig
    from luthien.policy.registry import build_policies

    entry_name = name or reference.rpartition(":")[2]
    entries = {**(policies or {}), entry_name: {"class": reference, "config": dict(config or {})}}
    return build_policies(LuthienConfig.model_validate({"policies": entries}), entry_name)[entry_name]
