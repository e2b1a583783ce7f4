"""Decoders and encoders share no state: what an encoder knows of the wire form comes on the events.

Each API's decoder notes what its encoder needs in the events' `hints`, tagged with its API; an
encoder reads its own API's hints only. So a fresh decoder and an unrelated encoder reproduce the
upstream's exact bytes, what a codec's own decoder read never reaches its encoder, and an event
carrying another API's hints is written from its meaning alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson
import pytest

from luthien.apis.anthropic_messages.codec import AnthropicHints
from luthien.apis.openai_chat.api import CHAT_CHUNK, OPENAI_CHAT
from luthien.apis.openai_chat.fields import ChatHints
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.apis.openai_responses.items import ResponsesHints
from luthien.apis.registry import new_codec
from luthien.call.codec import CallDecoder, CallEncoder
from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    StopReason,
    ToolCall,
    Usage,
    WireHints,
    text_block,
    tool_call_block,
)
from luthien.call.repair import Repairer
from luthien.testing.fake_provider.openai_chat_wire import chat_stream
from luthien.testing.fake_provider.script import ToolCall as FakeCall
from luthien.testing.streams import API_NAMES, WIRE_APIS, ApiName, ModelReply, model_reply
from luthien.translation.responses import decoder_for, encoder_for
from luthien.wire.apis import WireApi, response_event
from luthien.wire.events import RESPONSE_BODY, WireEvent
from luthien.wire.sse import SSEParser

Policy = Callable[[CallEvent], list[CallEvent]]

WEATHER = FakeCall("call_w", "get_weather", {"city": "Paris", "days": [1, 2]})
TIME = FakeCall("call_t", "get_time", {"timezone": "UTC"})
VOLATILE_KEYS = frozenset({"id", "item_id", "created", "created_at"})
"""Fields an encoder makes up afresh for events a policy built (fresh ids, the current time)."""


def _identity(event: CallEvent) -> list[CallEvent]:
    return [event]


def _wire_events(api: WireApi, frames: Sequence[bytes]) -> list[WireEvent]:
    parser = SSEParser()
    events = [api.decode(frame) for chunk in frames for frame in parser.feed(chunk)]
    tail = parser.finish()
    return [*events, api.decode(tail)] if tail is not None else events


def _decoded(api: WireApi, frames: Sequence[bytes], decoder: CallDecoder | None = None) -> list[CallEvent]:
    """The events `decoder` (a fresh one of `api` by default) decodes from a whole stream."""
    decoder = decoder if decoder is not None else decoder_for(api)
    events = [event for wire in _wire_events(api, frames) for event in decoder.decode(wire)]
    return [*events, *decoder.finish_decode()]


def _encoded(
    api: WireApi, events: list[CallEvent], encoder: CallEncoder | None = None, policy: Policy = _identity
) -> bytes:
    """The bytes `encoder` (a fresh one of `api` by default) writes, after `policy` and the repairer."""
    encoder = encoder if encoder is not None else encoder_for(api)
    repairer = Repairer(lambda kind, detail: None)
    out: list[WireEvent] = []
    for event in events:
        for changed in policy(event):
            for fixed in repairer.feed(changed):
                out.extend(encoder.encode(fixed))
    for fixed in repairer.finish(True):
        out.extend(encoder.encode(fixed))
    out.extend(encoder.finish_encode())
    return b"".join(api.encode(wire) for wire in out)


def _payloads(data: bytes) -> list[Any]:
    """The JSON payloads of an encoded stream (`[DONE]` as the string)."""
    frames = SSEParser().feed(data)
    return [frame.data if frame.data == "[DONE]" else orjson.loads(frame.data or "null") for frame in frames]


def _stable(value: Any) -> Any:
    """`value` without the fields an encoder makes up afresh (ids, timestamps)."""
    if isinstance(value, dict):
        items = cast(dict[str, Any], value).items()
        return {key: _stable(item) for key, item in items if key not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(item) for item in cast(list[Any], value)]
    return value


def _full_reply(name: ApiName) -> ModelReply:
    return model_reply(
        name, "Sunny in Paris today.", thinking="Check the forecast.", tool_calls=[WEATHER, TIME]
    )


def _other_reply(name: ApiName) -> ModelReply:
    """A stream unlike `_full_reply`'s: for Chat, reasoning in `reasoning`, no usage chunk, no `[DONE]`."""
    if name != "openai_chat":
        return model_reply(name, "", thinking="Something else entirely.", tool_calls=[TIME])
    frames = chat_stream("Other.", reasoning="Hmm.", tool_calls=[TIME], include_usage=False, done=False)
    return ModelReply(name, frames=tuple(f.replace(b'"reasoning_content"', b'"reasoning"') for f in frames))


# --- same API: exact bytes, whatever objects decode and encode ---------------------------------


@pytest.mark.parametrize("name", API_NAMES)
def test_a_fresh_decoders_events_encode_to_the_exact_upstream_bytes(name: ApiName) -> None:
    reply = _full_reply(name)
    events = _decoded(reply.wire_api, reply.frames)
    assert _encoded(reply.wire_api, events) == reply.raw


@pytest.mark.parametrize("name", API_NAMES)
def test_what_a_codecs_own_decoder_read_never_reaches_its_encoder(name: ApiName) -> None:
    api = WIRE_APIS[name]
    codec = new_codec(api)
    other = _other_reply(name)
    _decoded(api, other.frames, decoder=codec)  # the codec's decoder learns another stream's form
    reply = _full_reply(name)
    assert _encoded(api, _decoded(api, reply.frames), encoder=codec) == reply.raw


@pytest.mark.parametrize("name", API_NAMES)
def test_a_body_decoded_by_a_fresh_decoder_comes_back_as_its_own_bytes(name: ApiName) -> None:
    reply = model_reply(name, "Sunny.", thinking="Check.", tool_calls=[WEATHER], stream=False)
    assert reply.body is not None
    body = response_event(reply.body, orjson.loads(reply.body))
    events = decoder_for(reply.wire_api).decode_body(body)
    encoded = encoder_for(reply.wire_api).encode_body(events)
    assert encoded.raw == reply.body


@pytest.mark.parametrize("name", API_NAMES)
def test_a_changed_body_is_rebuilt_from_the_body_its_hints_name(name: ApiName) -> None:
    reply = model_reply(name, "Sunny.", tool_calls=[WEATHER], stream=False)
    assert reply.body is not None
    original = orjson.loads(reply.body)
    events = decoder_for(reply.wire_api).decode_body(response_event(reply.body, original))
    changed = [
        dataclasses.replace(event, model="another-model") if isinstance(event, MessageStart) else event
        for event in events
    ]
    rebuilt = encoder_for(reply.wire_api).encode_body(changed).data
    assert rebuilt["model"] == "another-model"
    assert rebuilt["usage"] == original["usage"]  # only the original body has it whole


def test_a_changed_reasoning_piece_keeps_the_upstreams_reasoning_field() -> None:
    frames = [
        f.replace(b'"reasoning_content"', b'"reasoning"') for f in chat_stream("Answer.", reasoning="Mull.")
    ]

    def shout(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockDelta) and event.kind is BlockKind.THINKING:
            return [dataclasses.replace(event, text=event.text.upper())]
        return [event]

    out = _payloads(_encoded(OPENAI_CHAT, _decoded(OPENAI_CHAT, frames), policy=shout))
    deltas = [p["choices"][0]["delta"] for p in out if isinstance(p, dict) and p.get("choices")]
    assert "".join(d.get("reasoning", "") for d in deltas) == "MULL."
    assert not any("reasoning_content" in d for d in deltas)


def test_events_without_hints_are_written_in_the_plain_form() -> None:
    frames = [
        f.replace(b'"reasoning_content"', b'"reasoning"') for f in chat_stream("Answer.", reasoning="Mull.")
    ]

    def forget(event: CallEvent) -> list[CallEvent]:
        return [dataclasses.replace(event, hints=None)]

    out = _payloads(_encoded(OPENAI_CHAT, _decoded(OPENAI_CHAT, frames), policy=forget))
    deltas = [p["choices"][0]["delta"] for p in out if isinstance(p, dict) and p.get("choices")]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Mull."
    assert out[-1] == "[DONE]"


# --- another API's hints: the meaning alone ------------------------------------------------------


def _chat_usage_chunk() -> WireEvent:
    usage = {"prompt_tokens": 99, "completion_tokens": 1, "total_tokens": 100}
    return WireEvent(CHAT_CHUNK, {"id": "chatcmpl-up", "object": CHAT_CHUNK, "choices": [], "usage": usage})


HINTS: dict[ApiName, WireHints] = {
    "anthropic": AnthropicHints(
        body=WireEvent(RESPONSE_BODY, {"id": "msg_up", "usage": {"output_tokens": 7}})
    ),
    "openai_chat": ChatHints(
        tool_index=7,
        reasoning_keys=("reasoning",),
        trailer=(_chat_usage_chunk(),),
        ended_without_done=True,
        usage=Usage(99, 1),
        body=WireEvent(RESPONSE_BODY, {"id": "chatcmpl-up", "system_fingerprint": "fp_up"}),
    ),
    "openai_responses": ResponsesHints(
        output_index=0,
        item={"type": "message", "id": "msg_up", "role": "assistant", "content": []},
        announced=(0, 1, 2),
        body=WireEvent(RESPONSE_BODY, {"id": "resp_up", "instructions": "from upstream"}),
    ),
}
"""One API's hints with something to say, as its decoder would note them."""


def _policy_events(hints: WireHints | None) -> list[CallEvent]:
    """A whole answer a policy built: thinking, text and a tool call, every event carrying `hints`."""
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    thinking = Block(BlockKind.THINKING, text="Hmm.")
    return [
        MessageStart("msg_policy", "model-x", hints=hints),
        BlockStart(0, BlockKind.THINKING, hints=hints),
        BlockDelta(0, BlockKind.THINKING, text="Hmm.", hints=hints),
        BlockComplete(0, thinking, hints=hints),
        BlockStart(1, BlockKind.TEXT, hints=hints),
        BlockDelta(1, BlockKind.TEXT, text="Sunny.", hints=hints),
        BlockComplete(1, text_block("Sunny."), hints=hints),
        BlockStart(2, BlockKind.TOOL_CALL, tool_call=ToolCall(call.id, call.name, ""), hints=hints),
        BlockDelta(2, BlockKind.TOOL_CALL, text=call.arguments, hints=hints),
        BlockComplete(2, tool_call_block(call), hints=hints),
        MessageEnd(StopReason.TOOL_USE, usage=Usage(10, 5), hints=hints),
    ]


FOREIGN = [(client, source) for client in API_NAMES for source in API_NAMES if source != client]


@pytest.mark.parametrize(("client", "source"), FOREIGN)
def test_a_stream_carrying_another_apis_hints_is_written_from_its_meaning(
    client: ApiName, source: ApiName
) -> None:
    api = WIRE_APIS[client]
    plain = _payloads(_encoded(api, _policy_events(None)))
    hinted = _payloads(_encoded(api, _policy_events(HINTS[source])))
    assert _stable(hinted) == _stable(plain)


@pytest.mark.parametrize(("client", "source"), FOREIGN)
def test_a_body_carrying_another_apis_hints_is_written_from_its_meaning(
    client: ApiName, source: ApiName
) -> None:
    api = WIRE_APIS[client]
    plain = encoder_for(api).encode_body(_policy_events(None)).data
    hinted = encoder_for(api).encode_body(_policy_events(HINTS[source])).data
    assert _stable(hinted) == _stable(plain)


@pytest.mark.parametrize("client", API_NAMES)
def test_an_encoder_follows_hints_of_its_own_api(client: ApiName) -> None:
    """The control for the two tests above: the same hints of the encoder's own API change the output."""
    api = WIRE_APIS[client]
    plain = encoder_for(api).encode_body(_policy_events(None)).data
    hinted = encoder_for(api).encode_body(_policy_events(HINTS[client])).data
    assert _stable(hinted) != _stable(plain)


def test_a_block_a_policy_resends_whole_keeps_its_upstream_item() -> None:
    """A replaced copy of a decoded block keeps the block's hints: its part reopens the upstream message."""
    reply = model_reply("openai_responses", "Sunny today.")
    upstream = [p["item"]["id"] for p in _payloads(reply.raw) if p["type"] == "response.output_item.added"]

    def resend_whole(event: CallEvent) -> list[CallEvent]:
        if isinstance(event, BlockStart | BlockDelta) and event.kind is BlockKind.TEXT:
            return []
        if isinstance(event, BlockComplete) and event.block.kind is BlockKind.TEXT:
            return [BlockComplete(-1, dataclasses.replace(event.block, text="Changed."))]
        return [event]

    out = _payloads(_encoded(OPENAI_RESPONSES, _decoded(OPENAI_RESPONSES, reply.frames), policy=resend_whole))
    added = [p["item"]["id"] for p in out if p["type"] == "response.output_item.added"]
    assert added == upstream
    final = out[-1]["response"]["output"]
    assert [(item["id"], [part["text"] for part in item["content"]]) for item in final] == [
        (upstream[0], ["Changed."])
    ]
