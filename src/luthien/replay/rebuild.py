"""A recorded response as the upstream sent it: a whole body as is, a stream re-encoded into SSE frames.

Records keep a streamed response assembled into the whole message its API returns without streaming
(`luthien.records.assemble`); the upstream's frames themselves are not stored. To feed a policy the
stream it saw, the message is decoded by its API's codec (`decode_body`) and encoded back by the same
codec's stream encoder: blocks in their recorded order, each block's start, its content as one delta
and its end, then the message's end. Only the message-level templates are adjusted per API, so the
encoder opens an empty message (Anthropic `message_start`, Chat's first chunk, Responses
`response.created`) and closes it with the recorded stop reason and usage.

The rebuilt stream assembles back into the recorded message (tested for every API), so a policy
that leaves the stream alone produces the recorded response again.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, cast

import orjson

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.call.events import CallEvent, MessageEnd, MessageStart
from luthien.pipeline.stage import codec_for
from luthien.wire.apis import WireApi, response_event

CHAT_CHUNK = "chat.completion.chunk"
RESPONSES_COMPLETED = "response.completed"
RESPONSES_TERMINAL = {
    "completed": RESPONSES_COMPLETED,
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}


class NotReplayable(ValueError):
    """A recorded response that cannot be fed to a policy (not a JSON object, truncated, ...)."""


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _start_template(api: WireApi, message: dict[str, Any]) -> dict[str, Any]:
    """What the stream's opening event carries: the message with no output yet."""
    if api is ANTHROPIC_MESSAGES:
        usage = _dict(message.get("usage"))
        return {
            **message,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 0} if usage else {"output_tokens": 0},
        }
    if api is OPENAI_CHAT:
        base = {k: v for k, v in message.items() if k not in ("choices", "usage", "object")}
        choices: list[Any] = message.get("choices") or [{}]
        said = _dict(_dict(choices[0]).get("message"))
        # Fields the message has as null (`refusal`) are announced by the first chunk, as providers do.
        nulls = {key: None for key, value in said.items() if value is None}
        choice = {
            "index": 0,
            "delta": {"role": "assistant", **nulls},
            "logprobs": None,
            "finish_reason": None,
        }
        return {**base, "object": CHAT_CHUNK, "choices": [choice]}
    return {**message, "status": "in_progress", "output": [], "usage": None}


def _end_template(api: WireApi, message: dict[str, Any]) -> dict[str, Any] | None:
    """What the stream's closing event carries beside what the encoder writes (usage, the response)."""
    if api is ANTHROPIC_MESSAGES:
        usage = _dict(message.get("usage"))
        return {
            "type": "message_delta",
            "delta": {},
            "usage": {"output_tokens": usage.get("output_tokens", 0)},
        }
    if api is OPENAI_CHAT:
        usage = message.get("usage")
        return {"usage": usage} if isinstance(usage, dict) else None
    status = str(message.get("status") or "completed")
    return {"type": RESPONSES_TERMINAL.get(status, RESPONSES_COMPLETED), "response": copy.deepcopy(message)}


def _fresh(event: CallEvent, api: WireApi, message: dict[str, Any]) -> CallEvent:
    """The event without its origin (so the encoder serializes it), with the stream's templates."""
    if isinstance(event, MessageStart):
        return dataclasses.replace(event, data=_start_template(api, message))
    if isinstance(event, MessageEnd):
        return dataclasses.replace(event, data=_end_template(api, message))
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
