"""The contract between a wire format and the normalized view: a decoder and an encoder per API.

A `CallDecoder` takes one call's upstream `WireEvent`s and returns normalized `CallEvent`s; a
`CallEncoder` does the reverse. Each is stateful and serves one call, and the two share no state:
what the encoder needs of the upstream's wire form to write it again comes on the events: `origin`
(the exact upstream wire events, on the decoder's own objects only: a translation builds new events,
which have none) and `hints` of the encoder's own API (see `luthien.call.events`). So an encoder
writes any events alike, whichever decoder (of its API, of another, or none) they came from, and an
event of another API is written from its meaning alone. `CodecPair` puts a decoder and an encoder
together as the `CallCodec` the pipeline uses. Between the two, policies run and the repairer
(`luthien.call.repair`) makes the sequence well-formed, so an encoder may rely on this:

- at most one `MessageStart`, before any block;
- blocks one at a time: `BlockStart(index=k)`, `BlockDelta(index=k)*`, `BlockComplete(index=k)`,
  with k = 0, 1, 2, ... in the order sent, and each `BlockComplete.block` equal to what its deltas
  assemble to;
- tool-call blocks after every other block;
- at most one `MessageEnd`, after every block, its stop reason consistent with the blocks sent;
- `Opaque` events anywhere.

An event whose `origin` is set arrived unchanged: when every event decoded from that origin arrives
unchanged and in a row, the encoder sends the origin's wire events (their exact bytes), adjusting
only numbering the format requires (e.g. Responses `sequence_number`).
"""

from __future__ import annotations

from typing import Protocol

from luthien.call.events import CallEvent, Origin, with_origin
from luthien.wire.events import WireEvent


class UnreadableOutput(Exception):
    """Upstream output a codec cannot interpret (e.g. an unknown kind of tool call).

    It would reach the client unread, so the stage refuses it: a stream ends with the API's error
    event, a whole body is answered 502.
    """


class CallDecoder(Protocol):
    """Decodes one call's upstream output in one wire format."""

    def decode(self, event: WireEvent) -> list[CallEvent]:
        """Normalized events for one upstream stream event (possibly none, possibly several)."""
        ...

    def finish_decode(self) -> list[CallEvent]:
        """Events still held when the upstream stream ended."""
        ...

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """The normalized sequence of a whole non-streaming response body."""
        ...


class CallEncoder(Protocol):
    """Encodes one call's normalized events in one wire format, from the events alone."""

    def encode(self, event: CallEvent) -> list[WireEvent]:
        """Wire events to send for one normalized event."""
        ...

    def finish_encode(self) -> list[WireEvent]:
        """Wire events still held when the normalized stream ended."""
        ...

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """A whole non-streaming response body for a normalized sequence.

        When every event is one a decoder of this API decoded from one body and none is missing,
        this is that body event (raw bytes kept); otherwise the body is rebuilt, with the body the
        events' hints name (if any) as a template.
        """
        ...


class CallCodec(CallDecoder, CallEncoder, Protocol):
    """Decoder and encoder for one call (see `CallDecoder`, `CallEncoder`)."""


class CodecPair:
    """A `CallCodec` made of a decoder and an encoder that share no state.

    Attributes:
        decoder: decodes the upstream's output.
        encoder: encodes the normalized events for the client.
    """

    __slots__ = ("decoder", "encoder")

    def __init__(self, decoder: CallDecoder, encoder: CallEncoder) -> None:
        self.decoder = decoder
        self.encoder = encoder

    def decode(self, event: WireEvent) -> list[CallEvent]:
        """See `CallDecoder.decode`."""
        return self.decoder.decode(event)

    def finish_decode(self) -> list[CallEvent]:
        """See `CallDecoder.finish_decode`."""
        return self.decoder.finish_decode()

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """See `CallDecoder.decode_body`."""
        return self.decoder.decode_body(body)

    def encode(self, event: CallEvent) -> list[WireEvent]:
        """See `CallEncoder.encode`."""
        return self.encoder.encode(event)

    def finish_encode(self) -> list[WireEvent]:
        """See `CallEncoder.finish_encode`."""
        return self.encoder.finish_encode()

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """See `CallEncoder.encode_body`."""
        return self.encoder.encode_body(events)


class OriginGrouping:
    """Decides, event by event, whether an origin's wire events can be sent as they came.

    Events of one origin are collected; once all `parts` have arrived unchanged and in a row, the
    origin is released for raw sending. An event of another origin, or one without origin, releases
    the incomplete group for re-serialization instead.
    """

    __slots__ = ("_events", "_origin")

    def __init__(self) -> None:
        self._events: list[CallEvent] = []
        self._origin: Origin | None = None

    def offer(self, event: CallEvent) -> tuple[list[CallEvent], Origin | None, list[CallEvent]]:
        """Take one event.

        Returns:
            (events to re-serialize now, an origin whose wire events to send raw, the events of
            that origin), in that order of sending.
        """
        origin = event.origin
        flushed: list[CallEvent] = []
        if self._events and origin is not self._origin:
            flushed = self.flush()
        if origin is None:
            return [*flushed, event], None, []
        self._events.append(event)
        self._origin = origin
        if len(self._events) < origin.parts:
            return flushed, None, []
        complete, self._events, self._origin = self._events, [], None
        return flushed, origin, complete

    def flush(self) -> list[CallEvent]:
        """Release an incomplete group for re-serialization."""
        events, self._events, self._origin = self._events, [], None
        return events


def body_events(body: WireEvent, events: list[CallEvent]) -> list[CallEvent]:
    """Give every event decoded from a whole body the body as their one shared origin."""
    origin = Origin((body,), parts=len(events))
    return [with_origin(event, origin) for event in events]


def is_unchanged_body(body: WireEvent | None, events: list[CallEvent]) -> bool:
    """Whether `events` are exactly the events `body_events` made from `body`, all unchanged."""
    if body is None or not events:
        return False
    origin = events[0].origin
    if origin is None or origin.wire != (body,) or origin.parts != len(events):
        return False
    return all(event.origin is origin for event in events)
