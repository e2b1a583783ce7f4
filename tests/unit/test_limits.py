"""Pure logic of the limits: JSON depth, message counts, record truncation, timeout precedence, keep-alive."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from starlette.types import Message

from luthien.config import RouteConfig, TimeoutsConfig, UpstreamApi, UpstreamConfig
from luthien.gateway.limits import CallGate, check_json_depth, check_message_count, json_depth_exceeds
from luthien.pipeline.keepalive import KeepAlive
from luthien.records.bounded import TAIL_BYTES, BoundedChunks, mark_message
from luthien.records.responses import rebuild_responses
from luthien.settings import MAX_SERIALIZABLE_JSON_DEPTH, Settings
from luthien.upstream.timeouts import UpstreamTimeouts, resolve_timeouts
from luthien.wire.apis import ANTHROPIC_MESSAGES
from luthien.wire.errors import ErrorKind, GatewayError

ORJSON_BUFFER_BYTES = 4096
"""What orjson allocates for any output shorter than this (3.13)."""


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


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_depth_check_with_the_raw_body_refuses_exactly_what_the_walk_refuses(depth: int) -> None:
    """The bracket count only ever skips bodies that cannot be too deep; brackets in strings don't fool it."""
    limit = 4
    body = {"messages": nested(depth - 1), "text": "[[[[{{{{ brackets in a string"}
    raw = orjson.dumps(body)
    if depth > limit:
        with pytest.raises(GatewayError) as refused:
            check_json_depth(body, limit, raw)
        assert refused.value.kind is ErrorKind.INVALID_REQUEST
    else:
        check_json_depth(body, limit, raw)  # many brackets in all, yet shallow enough: the walk says so
    shallow = {"messages": nested(depth - 1)}
    if depth <= limit:
        check_json_depth(shallow, limit, orjson.dumps(shallow))  # few brackets: the count alone passes it


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


def test_client_side_reads_the_upstream_side_while_they_match() -> None:
    upstream = BoundedChunks(None)
    client = BoundedChunks(None, mirror=upstream)
    for chunk in (b"ab", b"cd"):
        upstream.add(chunk)
        client.add(chunk)
    assert client.head == [b"ab", b"cd"]
    assert client.raw() == b"abcd"
    upstream.add(b"ef")
    client.add(b"EF")  # a policy changed this event: the client's side keeps bytes of its own
    upstream.add(b"gh")
    client.add(b"gh")
    assert client.head == [b"ab", b"cd", b"EF", b"gh"]
    assert upstream.head == [b"ab", b"cd", b"ef", b"gh"]
    assert (client.chunks, client.kept, upstream.raw()) == (4, 8, b"abcdefgh")


def test_a_mirrored_side_is_truncated_like_its_own() -> None:
    upstream = BoundedChunks(5)
    client = BoundedChunks(5, mirror=upstream)
    for side in (upstream, client):
        assert side.add(b"123")
        assert not side.add(b"4567")
    assert client.head == upstream.head == [b"123", b"45"]
    assert client.tail == (b"4567",)
    assert client.truncated


def test_a_whole_body_is_kept_as_it_came() -> None:
    side = BoundedChunks(None)
    body = b"x" * 1000
    side.add(body)
    assert side.raw() is body


def _anthropic_stream(text: str) -> list[bytes]:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "m", "role": "assistant", "content": [], "model": "x"}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_stop"},
    ]
    return [b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events]


def test_a_record_holds_its_responses_at_their_own_size() -> None:
    """The assembled messages a record keeps (while it waits for the writer) are not orjson's buffers."""
    upstream = BoundedChunks(None)
    client = BoundedChunks(None, mirror=upstream)
    for frame, changed in zip(_anthropic_stream("hi"), _anthropic_stream("HI"), strict=True):
        upstream.add(frame)
        client.add(changed)
    tracemalloc.start()
    try:
        responses = rebuild_responses(
            ANTHROPIC_MESSAGES.name,
            client=client,
            client_streamed=True,
            upstream=upstream,
            upstream_streamed=True,
            upstream_body_seen=False,
        )
        held = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, rebuild_responses.__code__.co_filename)]
        )
    finally:
        tracemalloc.stop()
    assert responses.original is not None
    assert responses.final is not None
    assert b'"hi"' in responses.original
    assert b'"HI"' in responses.final
    assert len(responses.original) + len(responses.final) < ORJSON_BUFFER_BYTES // 4
    # Both messages and the `Responses` around them: less than one orjson buffer.
    assert sum(stat.size for stat in held.statistics("filename")) < ORJSON_BUFFER_BYTES


def test_unbounded_chunks_keep_everything() -> None:
    side = BoundedChunks(None)
    side.add(b"a" * 1000)
    assert not side.truncated
    assert side.tail == ()
    assert side.marked_raw(b"a") == b"a"
    assert mark_message({"a": 1}, truncated=False) == {"a": 1}


def test_timeouts_route_over_upstream_over_settings() -> None:
    defaults = UpstreamTimeouts.from_settings(
        Settings(upstream_read_timeout_s=60, upstream_idle_timeout_s=30)
    )
    assert defaults == UpstreamTimeouts(connect_s=10.0, first_byte_s=60.0, idle_s=30.0)
    upstream = UpstreamConfig(
        format=UpstreamApi.OPENAI,
        base_url="http://x",
        timeouts=TimeoutsConfig(connect_s=2, first_byte_s=100),
    )
    route = RouteConfig(model="o3*", upstream="u", timeouts=TimeoutsConfig(first_byte_s=900))
    assert resolve_timeouts(defaults, upstream, route.timeouts) == UpstreamTimeouts(2, 900, 30)
    assert resolve_timeouts(defaults, upstream, None) == UpstreamTimeouts(2, 100, 30)


BODY = "http.response.body"
GUARD_S = 30.0
"""Deadlock guard for awaited events; never reached when the code under test works."""


def body(chunk: bytes, more: bool = True) -> Message:
    return {"type": BODY, "body": chunk, "more_body": more}


@pytest.mark.asyncio
async def test_keepalive_is_sent_only_after_the_first_frame_while_holding() -> None:
    sent: list[bytes] = []
    two_keepalives = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message.get("body", b"start"))
        if sent.count(b": ka\n\n") == 2:
            two_keepalives.set()

    keepalive = KeepAlive(send, b": ka\n\n", 0.001, lambda: True)
    await keepalive.send({"type": "http.response.start", "status": 200, "headers": []})
    await keepalive.send(body(b"first\n\n"))
    await asyncio.wait_for(two_keepalives.wait(), GUARD_S)
    await keepalive.send(body(b"last\n\n", more=False))
    await keepalive.close()

    assert sent[:2] == [b"start", b"first\n\n"]
    assert sent[-1] == b"last\n\n"
    assert set(sent[2:-1]) == {b": ka\n\n"}
    assert keepalive.sent == len(sent) - 3


@pytest.mark.asyncio
async def test_no_keepalive_while_nothing_is_held() -> None:
    sent: list[bytes] = []
    asked = asyncio.Event()
    checks: list[bool] = []

    def holding() -> bool:
        checks.append(False)
        if len(checks) == 3:
            asked.set()
        return False

    async def send(message: Message) -> None:
        sent.append(message.get("body", b""))

    keepalive = KeepAlive(send, b": ka\n\n", 0.001, holding)
    await keepalive.send(body(b"first\n\n"))
    await asyncio.wait_for(asked.wait(), GUARD_S)  # three silent ticks asked, nothing held
    await keepalive.send(body(b"", more=False))
    await keepalive.close()

    assert sent == [b"first\n\n", b""]
    assert keepalive.sent == 0
