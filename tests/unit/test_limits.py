"""Pure logic of the limits: JSON depth, message counts, record truncation, timeout precedence, keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from pydantic import ValidationError

from luthien.config import RouteConfig, TimeoutsConfig, UpstreamConfig, WireFormat
from luthien.gateway.limits import CallGate, check_message_count, json_depth_exceeds
from luthien.pipeline.keepalive import with_keepalive
from luthien.records.bounded import TAIL_BYTES, BoundedChunks, mark_message
from luthien.settings import MAX_SERIALIZABLE_JSON_DEPTH, Settings
from luthien.upstream.timeouts import UpstreamTimeouts, resolve_timeouts
from luthien.wire.errors import ErrorKind, GatewayError


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [1, 2, 10, 128])
def test_depth_at_the_limit_passes_and_one_more_does_not(depth: int) -> None:
    assert not json_depth_exceeds(nested(depth), depth)
    assert json_depth_exceeds(nested(depth + 1), depth)


def test_depth_counts_objects_and_arrays_alike() -> None:
    body = {"a": [{"b": [1, "x", None]}], "c": "deep ] } ["}
    assert not json_depth_exceeds(body, 4)
    assert json_depth_exceeds(body, 3)


def test_depth_limit_setting_stays_within_what_orjson_writes() -> None:
    with pytest.raises(ValidationError):
        Settings(max_json_depth=MAX_SERIALIZABLE_JSON_DEPTH + 1)


def test_message_count_applies_to_messages_and_input() -> None:
    check_message_count({"messages": [{}] * 3, "input": "text"}, 3)
    for field in ("messages", "input"):
        with pytest.raises(GatewayError) as caught:
            check_message_count({field: [{}] * 4}, 3)
        assert caught.value.kind is ErrorKind.INVALID_REQUEST


def test_overload_status_differs_per_format() -> None:
    assert ErrorKind.OVERLOADED.status_for(openai=False) == 529
    assert ErrorKind.OVERLOADED.status_for(openai=True) == 503
    assert ErrorKind.INVALID_REQUEST.status_for(openai=True) == 400


def test_call_gate_counts_slots() -> None:
    gate = CallGate(2)
    with gate.admit():
        assert not gate.full
        with gate.admit():
            assert gate.full
        assert not gate.full
    assert gate.active == 0
    assert not CallGate(0).full


def test_bounded_chunks_keep_the_head_and_a_tail() -> None:
    side = BoundedChunks(10)
    assert side.add(b"12345")
    assert not side.add(b"67890abc")
    assert side.head == [b"12345", b"67890"]
    assert side.truncated
    assert side.marked_raw(b"x").startswith(b"x\n[")
    for _ in range(3):
        side.add(b"z" * TAIL_BYTES)
    assert len(side.tail) == 1  # the tail keeps about TAIL_BYTES of the end
    assert side.total == 13 + 3 * TAIL_BYTES
    assert side.kept == 10


def test_unbounded_chunks_keep_everything() -> None:
    side = BoundedChunks(None)
    side.add(b"a" * 1000)
    assert not side.truncated
    assert side.marked_raw(b"a") == b"a"
    assert mark_message({"a": 1}, truncated=False) == {"a": 1}


def test_timeouts_route_over_upstream_over_settings() -> None:
    defaults = UpstreamTimeouts.from_settings(
        Settings(upstream_read_timeout_s=60, upstream_idle_timeout_s=30)
    )
    assert defaults == UpstreamTimeouts(connect_s=10.0, first_byte_s=60.0, idle_s=30.0)
    upstream = UpstreamConfig(
        format=WireFormat.OPENAI,
        base_url="http://x",
        timeouts=TimeoutsConfig(connect_s=2, first_byte_s=100),
    )
    route = RouteConfig(model="o3*", upstream="u", timeouts=TimeoutsConfig(first_byte_s=900))
    assert resolve_timeouts(defaults, upstream, route) == UpstreamTimeouts(2, 900, 30)
    assert resolve_timeouts(defaults, upstream, None) == UpstreamTimeouts(2, 100, 30)


@pytest.mark.asyncio
async def test_keepalive_is_sent_only_while_holding_and_between_frames() -> None:
    release = asyncio.Event()
    holding = [True]

    async def frames() -> AsyncGenerator[bytes]:
        yield b"first\n\n"
        await release.wait()
        yield b"last\n\n"

    out: list[bytes] = []
    async for chunk in with_keepalive(frames(), b": ka\n\n", 0.001, lambda: holding[0]):
        out.append(chunk)
        if out.count(b": ka\n\n") == 2:
            release.set()
    assert out[0] == b"first\n\n"
    assert out[-1] == b"last\n\n"
    assert out[1:-1] == [b": ka\n\n"] * (len(out) - 2)
    assert len(out) >= 4


@pytest.mark.asyncio
async def test_keepalive_off_passes_frames_through() -> None:
    async def frames() -> AsyncGenerator[bytes]:
        yield b"a\n\n"
        yield b"b\n\n"

    assert [chunk async for chunk in with_keepalive(frames(), b": ka\n\n", 0, lambda: True)] == [
        b"a\n\n",
        b"b\n\n",
    ]
