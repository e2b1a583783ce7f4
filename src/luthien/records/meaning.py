"""Whether a translated call's response reached the client with the meaning the upstream gave it.

A translated call's two responses are in different APIs, so their bytes always differ; its status is
`changed` only when a policy changed what the answer says. The upstream's answer is translated as
if no policy ran, and both that and what the client received are read back in the client's API:
the same blocks (kind, text, tool calls by id, name and parsed arguments) and the same stop reason
mean unchanged. Thinking signatures are left out: a translation seals them.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from luthien.apis.registry import BY_NAME, new_codec
from luthien.call.codec import UnreadableOutput
from luthien.call.events import BlockComplete, BlockKind, CallEvent, MessageEnd, StopReason
from luthien.translation.responses import codec_between
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import WireApi, response_event

_Block = tuple[BlockKind, str, str | None, str | None, Any]
_Meaning = tuple[tuple[_Block, ...], StopReason | None]


def _meaning(events: list[CallEvent]) -> _Meaning:
    blocks: list[_Block] = []
    stop: StopReason | None = None
    for event in events:
        if isinstance(event, BlockComplete):
            block, call = event.block, event.block.tool_call
            if call is None:
                blocks.append((block.kind, block.text, None, None, None))
            else:
                blocks.append((block.kind, block.text, call.id, call.name, call.parsed_arguments))
        elif isinstance(event, MessageEnd):
            stop = event.stop_reason
    return tuple(blocks), stop


def _read(api: WireApi, message: dict[str, Any]) -> _Meaning:
    return _meaning(new_codec(api).decode_body(response_event(orjson.dumps(message), message)))


def same_meaning(original: dict[str, Any], upstream_api: str, final: dict[str, Any], client_api: str) -> bool:
    """Whether `final` (in `client_api`) says what `original` (in `upstream_api`) says, translated.

    Answers False when either side cannot be read: a record then shows the call as changed rather
    than hide a difference.
    """
    upstream, client = BY_NAME.get(upstream_api), BY_NAME.get(client_api)
    if upstream is None or client is None:
        return False
    try:
        codec = codec_between(upstream, client)
        translated = codec.encode_body(codec.decode_body(response_event(orjson.dumps(original), original)))
        data = orjson.loads(translated.raw) if translated.raw is not None else translated.data
        return isinstance(data, dict) and _read(client, cast(dict[str, Any], data)) == _read(client, final)
    except (UnreadableOutput, UpstreamStreamError, orjson.JSONDecodeError, TypeError, ValueError):
        return False
