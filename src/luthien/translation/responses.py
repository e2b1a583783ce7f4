"""Responses translated between APIs: decode in the upstream's API, encode in the client's.

`codec_between(upstream, client)` is the `CallCodec` of a call whose client speaks another API than
its upstream: the upstream API's decoder and the client API's encoder, which share no state
(`luthien.call.codec`). Decoding makes the upstream's events foreign (`luthien.translation.foreign`:
no origin, no upstream payloads, only what they mean; their hints, tagged with the upstream's API,
would be ignored by the client's encoder anyway); encoding writes the client API's form of refusals
and usage (its `ClientShape`, `apis/<name>/shape.py`), then runs the client API's encoder, which writes
everything from the events alone. Policies run in between on the normalized events, as for any call.

```mermaid
flowchart LR
    U[upstream wire events] --> D[upstream API's decoder] --> F[ForeignEvents] --> P[policy + repairer]
    P --> S[ClientShape] --> E[client API's encoder] --> C[client wire events]
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from luthien.apis.registry import entry_of, new_codec, new_shape
from luthien.call.codec import CallCodec, CallDecoder, CallEncoder, CodecPair
from luthien.call.events import CallEvent, MessageEnd
from luthien.translation.foreign import ForeignEvents
from luthien.wire.apis import WireApi
from luthien.wire.events import WireEvent


def decoder_for(api: WireApi) -> CallDecoder:
    """A fresh decoder for one call's upstream output in `api`."""
    return entry_of(api).new_decoder()


def encoder_for(api: WireApi) -> CallEncoder:
    """A fresh encoder for one call's output to a client of `api`."""
    return entry_of(api).new_encoder()


class ForeignDecoder:
    """Decodes one call in the upstream's API into foreign events (what they mean)."""

    def __init__(self, upstream: WireApi, client: WireApi) -> None:
        self._decoder = decoder_for(upstream)
        self._foreign = ForeignEvents(upstream, client)

    def decode(self, event: WireEvent) -> list[CallEvent]:
        """See `CallDecoder.decode` (raises `UpstreamStreamError` for the upstream's in-stream error)."""
        return self._foreign.convert(self._decoder.decode(event))

    def finish_decode(self) -> list[CallEvent]:
        """See `CallDecoder.finish_decode`."""
        return self._foreign.convert(self._decoder.finish_decode())

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """See `CallDecoder.decode_body`."""
        return self._foreign.convert(self._decoder.decode_body(body))


class ShapingEncoder:
    """Encodes one call in the client's API, with the client's form of refusals and usage."""

    def __init__(self, client: WireApi, usage_chunk: bool = True) -> None:
        self._encoder = encoder_for(client)
        self._shape = new_shape(client, usage_chunk)

    def encode(self, event: CallEvent) -> list[WireEvent]:
        """See `CallEncoder.encode`."""
        shaped = self._shape.event(event)
        return self._shape.wire(shaped, self._encoder.encode(shaped))

    def finish_encode(self) -> list[WireEvent]:
        """See `CallEncoder.finish_encode`."""
        return self._encoder.finish_encode()

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """See `CallEncoder.encode_body`."""
        shaped = [self._shape.event(event) for event in events]
        usage = next((event.usage for event in shaped if isinstance(event, MessageEnd)), None)
        return self._shape.body(self._encoder.encode_body(shaped), usage)


class TranslatingCodec(CodecPair):
    """Decodes one call in the upstream's API and encodes it in the client's."""

    __slots__ = ()

    def __init__(self, upstream: WireApi, client: WireApi, usage_chunk: bool = True) -> None:
        super().__init__(ForeignDecoder(upstream, client), ShapingEncoder(client, usage_chunk))


def codec_between(upstream: WireApi, client: WireApi, *, usage_chunk: bool = True) -> CallCodec:
    """The codec of one call from an `upstream` of one API to a `client` of another (or the same).

    Args:
        upstream: the upstream's API.
        client: the client's API.
        usage_chunk: whether a Chat client's stream ends with the usage chunk (`wants_usage_chunk`).
    """
    if upstream is client:
        return new_codec(client)
    return TranslatingCodec(upstream, client, usage_chunk)


def wants_usage_chunk(request: Mapping[str, Any] | None) -> bool:
    """Whether a Chat client's request asks for the usage chunk (True when the request is unknown)."""
    if request is None:
        return True
    options = request.get("stream_options")
    return isinstance(options, dict) and cast(dict[str, Any], options).get("include_usage") is True
