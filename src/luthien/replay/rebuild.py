"""A recorded response as the upstream sent it: a whole body as is, a stream re-encoded into SSE frames.

Records keep a streamed response assembled into the whole message its API returns without streaming
(`luthien.records.assemble`); the upstream's frames themselves are not stored. To feed a policy the
stream it saw, the message is decoded by its API's codec (`decode_body`) and encoded back by the same
codec's stream encoder: blocks in their recorded order, each block's start, its content as one delta
and its end, then the message's end. Only the message-level templates are the API's own
(`WholeMessage.stream_start` / `stream_end`, in `apis/<name>/message.py`), so the encoder opens an
empty message (Anthropic `message_start`, Chat's first chunk, Responses `response.created`) and
closes it with the recorded stop reason and usage.

The rebuilt stream assembles back into the recorded message (tested for every API), so a policy
that leaves the stream alone produces the recorded response again.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import orjson

from luthien.apis.registry import entry_of
from luthien.call.events import CallEvent, MessageEnd, MessageStart
from luthien.pipeline.stage import codec_for
from luthien.wire.apis import WireApi, response_event


class NotReplayable(ValueError):
    """A recorded response that cannot be fed to a policy (not a JSON object, truncated, ...)."""


def _fresh(event: CallEvent, api: WireApi, message: dict[str, Any]) -> CallEvent:
    """The event without its origin (so the encoder serializes it), with the stream's templates."""
    if isinstance(event, MessageStart):
        return dataclasses.replace(event, data=entry_of(api).whole_message.stream_start(message))
    if isinstance(event, MessageEnd):
        return dataclasses.replace(event, data=entry_of(api).whole_message.stream_end(message))
    return dataclasses.replace(event)


def stream_frames(api: WireApi, body: bytes) -> list[bytes]:
    """The SSE frames of a stream that assembles into the recorded message `body`.

    Raises:
        NotReplayable: `body` is not a JSON object, or the codec cannot read it.
    """
    try:
        message: Any = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise NotReplayable("the recorded response is not JSON") from error
    if not isinstance(message, dict):
        raise NotReplayable("the recorded response is not a JSON object")
    whole = cast(dict[str, Any], message)
    codec = codec_for(api)
    try:
        events = codec.decode_body(response_event(body, whole))
    except Exception as error:  # an unknown tool item, say: the policy could not have seen it either
        raise NotReplayable(f"the recorded response cannot be decoded: {error}") from error
    frames: list[bytes] = []
    for event in events:
        frames.extend(api.encode(wire) for wire in codec.encode(_fresh(event, api, whole)))
    frames.extend(api.encode(wire) for wire in codec.finish_encode())
    return frames
