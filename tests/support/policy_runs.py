"""Running a policy outside the gateway: its context, and whole calls through the real pipeline.

`make_ctx` builds the `PolicyContext` a test hands a policy's hooks (an `ActivityLog` of its own
unless given one; no upstreams unless given `models`). `through_stream` and `through_body` run an
upstream answer through `PolicyStage` and the pipeline (`run_stream` / `run_body`) in-process, as
the gateway does for a call, and return the bytes the client receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from luthien.activity.log import ActivityLog
from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.call.request import CallRequest
from luthien.pipeline.run import run_body, run_stream
from luthien.pipeline.stage import PolicyStage
from luthien.policy.base import Policy, PolicyContext
from luthien.upstream.caller import ModelCaller
from luthien.wire.apis import WireApi
from tests.support.codec_streams import chunked

TRANSACTION_ID = "tx-test"
"""The transaction id of every context `make_ctx` builds unless told otherwise."""
READ_SIZE = 37
"""The size of the reads an upstream stream arrives in, unless a test cuts it itself: a prime, so
reads fall at every offset within frames."""


def resolve_nothing(name: str) -> Policy[Any]:
    """The policy resolver of a policy that names no other policy: asked anyway, the test fails."""
    raise AssertionError(f"this policy resolves no other policy (asked for {name!r})")


def make_ctx(
    name: str = "policy",
    *,
    activity: ActivityLog | None = None,
    models: ModelCaller | None = None,
    request: CallRequest | None = None,
    transaction_id: str = TRANSACTION_ID,
    max_held_bytes: int | None = None,
) -> PolicyContext:
    """A context for the policy instance `name` in one call."""
    return PolicyContext(
        transaction_id,
        name,
        activity if activity is not None else ActivityLog(),
        models,
        request,
        max_held_bytes=max_held_bytes,
    )


async def _reads(pieces: Sequence[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def through_stream(
    policy: Policy[Any],
    frames: Sequence[bytes],
    pieces: Sequence[bytes] | None = None,
    *,
    ctx: PolicyContext | None = None,
    api: WireApi = ANTHROPIC_MESSAGES,
) -> bytes:
    """The bytes a client receives for an upstream stream of `frames`, with `policy` applied.

    Args:
        policy: The policy of the call.
        frames: The upstream stream.
        pieces: The reads the stream arrives in (default: `READ_SIZE` bytes each).
        ctx: The policy's context (default: `make_ctx(policy.name)`).
        api: The API of the upstream and of the client.
    """
    data = b"".join(frames)
    stage = PolicyStage(policy, ctx or make_ctx(policy.name), api)

    async def go() -> bytes:
        reads = _reads(pieces if pieces is not None else chunked(data, READ_SIZE))
        return b"".join([piece async for piece in run_stream(api, reads, stage)])

    return asyncio.run(go())


def through_body(
    policy: Policy[Any],
    body: dict[str, Any],
    *,
    ctx: PolicyContext | None = None,
    api: WireApi = ANTHROPIC_MESSAGES,
) -> bytes:
    """The bytes a client receives for a whole upstream `body`, with `policy` applied."""
    stage = PolicyStage(policy, ctx or make_ctx(policy.name), api)
    return asyncio.run(run_body(api, orjson.dumps(body), stage))
