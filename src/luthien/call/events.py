"""The normalized response events a policy sees: the same for every wire format, streaming or not.

A response is: one `MessageStart`; for each content block a `BlockStart`, its `BlockDelta`s and a
`BlockComplete` carrying the assembled `Block`; one `MessageEnd` with the stop reason and usage.
Anything else upstream sends (pings, unknown event types) is an `Opaque` event that passes through.

Events are immutable. An event decoded from upstream remembers the wire events it came from in
`origin`; `origin` is not an init field, so `dataclasses.replace()` and every event a policy builds
have none, and the encoder serializes them anew. An event a policy returns as it received it keeps its
origin and goes out as the exact upstream bytes.

Decoders and encoders share no state: what a decoder learned about the wire form that its API's
encoder needs to write the same form again (Chat's reasoning field and trailing chunks, a Responses
item's upstream position, a whole body as a template) travels on the events, in `hints`: a
`WireHints` of the decoding API's own class. `hints` is an init field kept by `dataclasses.replace()`
(a changed event keeps the wire form it came in where that still applies); an encoder reads only
hints of its own API (`hints_of`), so an event of another API, or one a policy built, is encoded from
its meaning alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import orjson

from luthien.wire.events import WireEvent


class BlockKind(StrEnum):
    """What a content block holds."""

    TEXT = "text"
    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    OTHER = "other"
    """Server tools, redacted thinking, images...: passed through, never interpreted."""


class StopReason(StrEnum):
    """Why the model stopped, in the normalized vocabulary (each encoder maps it to its format)."""

    END_TURN = "end_turn"
    TOOL_USE = "tool_use"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    REFUSAL = "refusal"
    PAUSE_TURN = "pause_turn"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Origin:
    """The wire events some normalized events were decoded from.

    Attributes:
        wire: the upstream events, in order.
        parts: how many normalized events were decoded from them; the encoder may send `wire` as
            is only when all of them arrive unchanged and in a row.
    """

    wire: tuple[WireEvent, ...]
    parts: int = 1


@dataclass(frozen=True, slots=True)
class WireHints:
    """What one API's decoder noted about an event's wire form, for that API's encoder only.

    Each API has its own subclass (e.g. `ChatHints`), which sets `api`; an encoder asks for its own
    class with `hints_of` and never sees another API's.

    Attributes:
        api: the name of the API whose decoder made them (`WireApi.name`).
    """

    api: ClassVar[str] = ""


_Hints = TypeVar("_Hints", bound=WireHints)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call: its id, tool name, and the arguments as the JSON text the model produced.

    Attributes:
        id: the call id the client will answer with a tool result.
        name: the tool's name.
        arguments: the arguments exactly as streamed; may be cut off or invalid JSON.
    """

    id: str
    name: str
    arguments: str = "{}"

    @property
    def parsed_arguments(self) -> dict[str, Any] | None:
        """The arguments as an object, or None when they are not a valid JSON object."""
        try:
            value = orjson.loads(self.arguments or "{}")
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


@dataclass(frozen=True, slots=True)
class Block:
    """A whole content block.

    Attributes:
        kind: what the block holds.
        text: the text (TEXT), or the reasoning (THINKING).
        tool_call: the call (TOOL_CALL).
        signature: the thinking signature the provider needs back (THINKING), if any.
        data: the provider's own block object for OTHER blocks (and for round-tripping unknown
            fields of known blocks); None for blocks a policy built.
        hints: its start's hints (kept by `dataclasses.replace`, so a block a policy sends whole
            in place of the decoded one keeps them).
    """

    kind: BlockKind
    text: str = ""
    tool_call: ToolCall | None = None
    signature: str | None = None
    data: dict[str, Any] | None = None
    hints: WireHints | None = field(default=None, compare=False, repr=False)


def text_block(text: str) -> Block:
    """A text block."""
    return Block(BlockKind.TEXT, text=text)


def tool_call_block(call: ToolCall) -> Block:
    """A tool-call block."""
    return Block(BlockKind.TOOL_CALL, tool_call=call)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, when the provider reported them, each in the provider's own sense.

    Anthropic's `input_tokens` leave out the tokens read from or written to the prompt cache;
    OpenAI's count every prompt token, cached ones included (`luthien.translation` converts).

    Attributes:
        input_tokens: prompt tokens.
        output_tokens: generated tokens.
        cache_read_input_tokens: prompt tokens read from the provider's cache.
        cache_creation_input_tokens: prompt tokens written to the cache (Anthropic only).
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class MessageStart:
    """The response began.

    Attributes:
        message_id: the provider's response id.
        model: the model that answers.
        data: the provider's payload it was decoded from (a template for re-encoding).
        hints: what the decoder noted about the wire form, for its own API's encoder.
    """

    message_id: str
    model: str
    data: dict[str, Any] | None = None
    hints: WireHints | None = field(default=None, compare=False, repr=False)
    origin: Origin | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A content block began.

    Attributes:
        index: the block's position as the upstream numbered it (the encoder renumbers).
        kind: what the block holds.
        tool_call: for TOOL_CALL, the id and name (arguments still empty).
        data: for OTHER, the provider's block object as it started.
        hints: what the decoder noted about the wire form, for its own API's encoder.
    """

    index: int
    kind: BlockKind
    tool_call: ToolCall | None = None
    data: dict[str, Any] | None = None
    hints: WireHints | None = field(default=None, compare=False, repr=False)
    origin: Origin | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BlockDelta:
    """A piece of a block: text, reasoning, a fragment of tool-call arguments JSON, or a signature.

    Attributes:
        index: the block's upstream index.
        kind: the block's kind.
        text: the appended text / reasoning / arguments fragment.
        signature: a thinking-signature piece, when this delta carries one instead of text.
        data: the provider's delta object when it is of a type with no normalized meaning
            (e.g. citations); re-encoded as is.
        wire_fields: what the wire carried beside this piece (e.g. Chat's `annotations`, `logprobs`),
            for the encoder to keep when the piece is re-serialized; `dataclasses.replace` keeps it,
            a delta a policy builds has none.
        hints: what the decoder noted about the wire form, for its own API's encoder.
    """

    index: int
    kind: BlockKind
    text: str = ""
    signature: str | None = None
    data: dict[str, Any] | None = None
    wire_fields: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    hints: WireHints | None = field(default=None, compare=False, repr=False)
    origin: Origin | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BlockComplete:
    """A content block ended; `block` is its assembled value.

    A policy may also return a `BlockComplete` without a start or deltas: the pipeline then sends
    the whole block at once (this is how `send_text` and replaced tool calls work).
    """

    index: int
    block: Block
    hints: WireHints | None = field(default=None, compare=False, repr=False)
    origin: Origin | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MessageEnd:
    """The response ended.

    Attributes:
        stop_reason: why, normalized.
        provider_stop_reason: the provider's own value (kept when it has no normalized name).
        usage: token counts, if reported.
        data: the provider's payload it was decoded from (a template for re-encoding).
        hints: what the decoder noted about the wire form, for its own API's encoder.
    """

    stop_reason: StopReason
    provider_stop_reason: str | None = None
    usage: Usage | None = None
    data: dict[str, Any] | None = None
    hints: WireHints | None = field(default=None, compare=False, repr=False)
    origin: Origin | None = field(default=None, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Opaque:
    """An upstream event outside the normalized model (ping, unknown types); always passed on."""

    wire: WireEvent
    hints: WireHints | None = field(default=None, compare=False, repr=False)
    origin: Origin | None = field(default=None, init=False, compare=False, repr=False)


CallEvent = MessageStart | BlockStart | BlockDelta | BlockComplete | MessageEnd | Opaque
"""Any normalized response event."""


_Event = TypeVar("_Event", bound=CallEvent)


def merged_wire_fields(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    """The `BlockDelta.wire_fields` of two pieces a policy joins into one.

    The fields beside the text (`delta`) are kept, lists (e.g. annotations) concatenated; what
    describes the exact text (`logprobs`) no longer fits it and is dropped.
    """
    if first is None or second is None:
        return first if second is None else second
    fields: dict[str, Any] = dict(first.get("delta") or {})
    for key, value in dict(second.get("delta") or {}).items():
        earlier = fields.get(key)
        fields[key] = [*earlier, *value] if isinstance(earlier, list) and isinstance(value, list) else value  # pyright: ignore[reportUnknownVariableType]
    return {"delta": fields, "logprobs": None, "text": None}


def hints_of(event: CallEvent, kind: type[_Hints]) -> _Hints | None:
    """The event's hints if they are of `kind` (an encoder's own API's), else None."""
    hints = event.hints
    return hints if isinstance(hints, kind) else None


def with_origin(event: _Event, origin: Origin) -> _Event:
    """Attach `origin` to a freshly decoded event (decoders only)."""
    object.__setattr__(event, "origin", origin)
    return event
