"""Running upstream bytes through a codec as the pipeline does, and reading the streams that come out.

`transcode` decodes an upstream stream of any API into normalized events, passes each through an
event policy, repairs and re-encodes, as `PolicyStage` does for a call; `transcode_body` does the
same for a whole body. `decode_all` and `decode_events` read a stream back as wire events or
normalized events; `sse_data` reads an SSE body's JSON payloads; `chunked` and `cut` split bytes the
way a network might.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import orjson

from luthien.call.events import CallEvent
from luthien.call.repair import Repairer
from luthien.pipeline.stage import codec_for
from luthien.wire.apis import WireApi, response_event
from luthien.wire.events import WireEvent
from luthien.wire.sse import SSEParser

EventPolicy = Callable[[CallEvent], list[CallEvent]]
"""A policy as a function of one normalized event: what to send in its place."""


def identity(event: CallEvent) -> list[CallEvent]:
    """The event policy that changes nothing."""
    return [event]


class Transcoded(NamedTuple):
    """What a client received (`out`), what the repairer reported, and what the codec decoded."""

    out: bytes
    reports: list[str]
    decoded: list[CallEvent]


def transcode(
    api: WireApi,
    upstream: bytes | Sequence[bytes],
    policy: EventPolicy = identity,
    pieces: Sequence[bytes] | None = None,
    ended: bool = True,
) -> Transcoded:
    """Decode `upstream` (bytes, or frames to join), apply `policy`, repair and encode in `api`.

    Args:
        api: The API of the upstream and of the client.
        upstream: The upstream stream.
        policy: What each decoded event becomes.
        pieces: The reads the upstream bytes arrive in (default: one read of everything).
        ended: Whether the upstream ended the stream (False: it was cut).
    """
    data = upstream if isinstance(upstream, bytes) else b"".join(upstream)
    codec = codec_for(api)
    reports: list[str] = []
    repairer = Repairer(lambda kind, _detail: reports.append(kind))
    parser = SSEParser()
    out: list[WireEvent] = []
    decoded: list[CallEvent] = []

    def feed(events: list[CallEvent]) -> None:
        for event in events:
            decoded.append(event)
            for changed in policy(event):
                for fixed in repairer.feed(changed):
                    out.extend(codec.encode(fixed))

    for piece in pieces if pieces is not None else [data]:
        for frame in parser.feed(piece):
            feed(codec.decode(api.decode(frame)))
    trailing = parser.finish()
    if trailing is not None:
        feed(codec.decode(api.decode(trailing)))
    feed(codec.finish_decode())
    for fixed in repairer.finish(ended):
        out.extend(codec.encode(fixed))
    out.extend(codec.finish_encode())
    return Transcoded(b"".join(api.encode(wire) for wire in out), reports, decoded)


def transcode_body(
    api: WireApi, body: dict[str, Any], policy: EventPolicy = identity
) -> tuple[WireEvent, WireEvent]:
    """The upstream `body` as an event, and what the client receives with `policy` applied."""
    raw = orjson.dumps(body)
    original = response_event(raw, orjson.loads(raw))
    codec = codec_for(api)
    repairer = Repairer(lambda _kind, _detail: None)
    events = [
        fixed for event in codec.decode_body(original) for e in policy(event) for fixed in repairer.feed(e)
    ]
    events.extend(repairer.finish(True))
    return original, codec.encode_body(events)


def decode_all(api: WireApi, data: bytes) -> list[WireEvent]:
    """The wire events of a whole stream, which must end on a frame boundary."""
    parser = SSEParser()
    events = [api.decode(frame) for frame in parser.feed(data)]
    assert parser.finish() is None, "the stream must end on a frame boundary"
    return events


def decode_events(api: WireApi, data: bytes) -> list[CallEvent]:
    """The normalized events a fresh codec reads from a whole stream."""
    codec = codec_for(api)
    events = [event for wire in decode_all(api, data) for event in codec.decode(wire)]
    return events + codec.finish_decode()


def payloads(api: WireApi, data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a whole stream's events (comments and `[DONE]` left out)."""
    return [event.data for event in decode_all(api, data) if isinstance(event.data, dict)]


def sse_data(body: str) -> list[dict[str, Any]]:
    """The JSON `data:` payloads of an SSE body (`[DONE]` left out)."""
    found: list[dict[str, Any]] = []
    for frame in body.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].removeprefix(" ") for line in frame.split("\n") if line.startswith("data:")]
        if data and data != ["[DONE]"]:
            found.append(json.loads("\n".join(data)))
    return found


def chunked(data: bytes, size: int) -> list[bytes]:
    """`data` in reads of `size` bytes (the last one shorter)."""
    return [data[start : start + size] for start in range(0, len(data), size)]


def cut(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """`data` cut at the given offsets (each taken modulo `len(data) + 1`), in order."""
    points = sorted({0, len(data), *(offset % (len(data) + 1) for offset in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]
