"""What every client API is on the wire: `WireApi`, the base of each API's object, and `Endpoint`.

An API object validates request bodies, decodes SSE frames into `WireEvent`s, encodes events that
have no raw bytes, recognises the event that ends a stream, and writes errors, both as a response
body and as in-stream events, in its own shape. Each API subclasses `WireApi` in its own package
(`luthien.apis.anthropic_messages.api`, `...openai_chat.api`, `...openai_responses.api`), and
`luthien.apis.registry` lists them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from luthien.wire.errors import ErrorKind, GatewayError, anthropic_error, openai_error
from luthien.wire.events import COMMENT, DONE, RESPONSE_BODY, WireEvent
from luthien.wire.formats import WireFormat
from luthien.wire.sse import SSEFrame, encode_frame

UNPARSED = "unparsed"
"""`type` of a frame whose data is not JSON: passed through untouched, never interpreted."""
UNREADABLE = "unreadable"
"""`type` of a frame (or body) that clients' JSON parsers read but Luthien's cannot (a lone surrogate
escape, `NaN`): a policy that inspects responses cannot see what a client would, so it is refused."""

_DONE_BYTES = b"data: [DONE]\n\n"


class WireApi:
    """Behaviour shared by every client API; subclasses set the class attributes and override hooks.

    Attributes:
        name: short identifier used in logs and records.
        path: the path a model response is created on (also the upstream path of a translated call).
        format: the error shape and provider dialect this API belongs to.
        terminal_types: event types after which the stream is complete.
        keepalive: the frame sent to keep an idle stream open (`pipeline/keepalive.py`).
        input_counts_cached: whether its usage's input tokens include the cached ones (OpenAI's do,
            Anthropic's count them apart).
    """

    name: str = ""
    path: str = ""
    format: WireFormat = WireFormat.ANTHROPIC
    terminal_types: frozenset[str] = frozenset()
    keepalive: bytes = b": keepalive\n\n"
    input_counts_cached: bool = True

    def validate_request(
        self, body: Any, required: dict[str, type], optional: dict[str, type] | None = None
    ) -> dict[str, Any]:
        """Check the parsed body is an object with the required fields of the right types.

        Fields in `optional` may be absent, but have the given type when present.

        Raises:
            GatewayError: INVALID_REQUEST naming the first bad field.
        """
        if not isinstance(body, dict):
            raise GatewayError(ErrorKind.INVALID_REQUEST, "request body must be a JSON object")
        fields: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        for field, expected in required.items():
            if field not in fields:
                raise GatewayError(ErrorKind.INVALID_REQUEST, f"{field}: field required")
            if not _is_instance(fields[field], expected):
                raise GatewayError(ErrorKind.INVALID_REQUEST, f"{field}: must be {_TYPE_NAMES[expected]}")
        for field, expected in (optional or {}).items():
            if field in fields and not _is_instance(fields[field], expected):
                raise GatewayError(ErrorKind.INVALID_REQUEST, f"{field}: must be {_TYPE_NAMES[expected]}")
        stream = fields.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise GatewayError(ErrorKind.INVALID_REQUEST, "stream: must be a boolean")
        return fields

    def decode(self, frame: SSEFrame) -> WireEvent:
        """Turn one upstream frame into an event that remembers its raw bytes."""
        if frame.data is None:
            return WireEvent(COMMENT, None, frame.event, frame.raw)
        try:
            data = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            kind = UNREADABLE if readable_by_clients(frame.data) else UNPARSED
            return WireEvent(kind, None, frame.event, frame.raw)
        return WireEvent(self._event_type(data, frame.event), data, frame.event, frame.raw)

    def _event_type(self, data: Any, sse_event: str | None) -> str:
        if isinstance(data, dict):
            event_type = data.get("type")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(event_type, str):
                return event_type
        return sse_event or UNPARSED

    def encode(self, event: WireEvent) -> bytes:
        """The bytes to send for `event`: its raw bytes when it has them, else a fresh serialization."""
        if event.raw is not None:
            return event.raw
        if event.type == RESPONSE_BODY:
            return orjson.dumps(event.data)
        if event.type == DONE:
            return _DONE_BYTES
        if event.type == COMMENT:
            return b":\n\n"
        return encode_frame(event.sse_event, orjson.dumps(event.data).decode("utf-8"))

    def is_terminal(self, event: WireEvent) -> bool:
        """Whether the stream is complete once `event` has been sent."""
        return event.type in self.terminal_types

    def error_body(self, kind: ErrorKind, message: str) -> dict[str, Any]:
        """The JSON error object for a non-streaming answer."""
        if self.format is WireFormat.ANTHROPIC:
            return anthropic_error(kind, message)
        return openai_error(kind, message)

    def error_status(self, kind: ErrorKind) -> int:
        """The HTTP status a client of this API gets for `kind`."""
        return kind.status_for(openai=self.format is WireFormat.OPENAI)

    def stream_error(self, kind: ErrorKind, message: str, last: WireEvent | None) -> list[WireEvent]:
        """Events that end a started stream with an error the client's SDK surfaces.

        Args:
            kind: what went wrong.
            message: explanation for the user.
            last: the last event with a payload already sent, for APIs that number their events.
        """
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One model-call endpoint of an API.

    Attributes:
        path: the client-facing path (also the upstream path).
        api: the client API spoken on it.
        required: top-level body fields that must be present, with their JSON types.
        applies_policy: False for calls that are forwarded untouched (token counting).
        optional: fields that may be absent but have the given JSON type when present.
    """

    path: str
    api: WireApi
    required: dict[str, type]
    applies_policy: bool = True
    optional: dict[str, type] | None = None


_TYPE_NAMES: dict[type, str] = {str: "a string", int: "an integer", list: "an array", dict: "an object"}


def _is_instance(value: Any, expected: type) -> bool:
    # JSON booleans are Python ints; a boolean is never a valid integer field.
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)


def readable_by_clients(text: str | bytes) -> bool:
    """Whether lenient JSON parsers read `text` (for text orjson has refused).

    Python's `json` (the official SDKs) and JavaScript's `JSON.parse` accept lone surrogate escapes,
    and Python's accepts `NaN` and `Infinity`; orjson accepts none of them.
    """
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def response_event(body: bytes, data: Any) -> WireEvent:
    """Wrap a whole non-streaming response body as the single event of its sequence."""
    return WireEvent(RESPONSE_BODY, data, None, body)
