"""The client APIs Luthien serves, as data: each API's pieces, and the APIs by name, path and upstream.

Lookups here replace branches on the API (the way httpx keeps its content decoders in
`SUPPORTED_DECODERS`): the gateway finds an endpoint's API by path, records find theirs by name, a
call is sent to an upstream in an API its configured `format` serves, or else translated to that
format's target API, through the pieces of both APIs. A fourth API adds its package
(`luthien.apis.<name>`: API object, codec, request decode and encode, client shape, whole message)
and one entry in `ENTRIES`, plus the upstream formats that serve it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from luthien.apis.anthropic_messages import api as anthropic_messages
from luthien.apis.anthropic_messages import message as anthropic_messages_message
from luthien.apis.anthropic_messages import request as anthropic_messages_request
from luthien.apis.anthropic_messages.codec import AnthropicCodec, AnthropicDecoder, AnthropicEncoder
from luthien.apis.anthropic_messages.shape import AnthropicShape
from luthien.apis.openai_chat import api as openai_chat
from luthien.apis.openai_chat import message as openai_chat_message
from luthien.apis.openai_chat import request as openai_chat_request
from luthien.apis.openai_chat.codec import OpenAIChatCodec, OpenAIChatDecoder, OpenAIChatEncoder
from luthien.apis.openai_chat.shape import ChatShape
from luthien.apis.openai_responses import api as openai_responses
from luthien.apis.openai_responses import message as openai_responses_message
from luthien.apis.openai_responses import request as openai_responses_request
from luthien.apis.openai_responses.codec import (
    OpenAIResponsesCodec,
    OpenAIResponsesDecoder,
    OpenAIResponsesEncoder,
)
from luthien.apis.openai_responses.shape import ResponsesShape
from luthien.call.codec import CallCodec, CallDecoder, CallEncoder
from luthien.config import UpstreamApi
from luthien.records.model import Usage
from luthien.translation.client_shape import ClientShape
from luthien.translation.request_model import NormalizedRequest
from luthien.wire.apis import Endpoint, WireApi
from luthien.wire.formats import WireFormat

RequestDecoder = Callable[[dict[str, Any]], NormalizedRequest]
"""An API's request body → the normalized request."""


class RequestEncoder(Protocol):
    """The normalized request → a request body of the encoder's API."""

    def __call__(self, request: NormalizedRequest, *, default_max_tokens: int) -> dict[str, Any]:
        """Encode `request`; `default_max_tokens` is the output limit when the API requires one."""
        ...


class StreamAssembler(Protocol):
    """Assembles one stream of an API into the whole message it would have answered without streaming."""

    error: str | None
    complete: bool

    def feed(self, data: dict[str, Any]) -> bool:
        """Take one event payload; True when it carries model output."""
        ...

    def done(self) -> None:
        """The `[DONE]` terminator arrived."""
        ...

    def result(self) -> dict[str, Any] | None:
        """The whole message, or None when the stream carried none."""
        ...


class WholeMessage(Protocol):
    """An API's whole (non-streaming) response message, as records and replays read and rebuild it."""

    def assembler(self) -> StreamAssembler:
        """A fresh assembler for one stream."""
        ...

    def usage(self, usage: dict[str, Any]) -> Usage:
        """The token counts of the message's `usage` object."""
        ...

    def tool_names(self, message: dict[str, Any]) -> tuple[str, ...]:
        """The names of the message's tool calls, in order."""
        ...

    def stream_start(self, message: dict[str, Any]) -> dict[str, Any]:
        """The payload a stream rebuilt from `message` opens with (the message, no output yet)."""
        ...

    def stream_end(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """What the rebuilt stream's closing event carries beside what the encoder writes."""
        ...


@dataclass(frozen=True, slots=True)
class ApiEntry:
    """One client API and its pieces against the hub (the normalized request and events).

    Attributes:
        api: the API object: its paths, error shapes, stream terminals and dialect.
        endpoints: its model-call endpoints (path, required fields).
        new_codec: a fresh response codec for one call whose client and upstream both speak the API
            (its decoder and encoder, which share no state).
        new_decoder: response decode alone: a fresh decoder of the API's upstream output.
        new_encoder: response encode alone: a fresh encoder of the API's client output.
        decode_request: request decode, its body to the normalized request.
        encode_request: request encode, the normalized request to its body.
        new_shape: a fresh `ClientShape` for one translated call to a client of this API (its form
            of refusals and usage), given whether the client asked for its stream's usage.
        whole_message: its whole response message, as records and replays read and rebuild it.
    """

    api: WireApi
    endpoints: tuple[Endpoint, ...]
    new_codec: Callable[[], CallCodec]
    new_decoder: Callable[[], CallDecoder]
    new_encoder: Callable[[], CallEncoder]
    decode_request: RequestDecoder
    encode_request: RequestEncoder
    new_shape: Callable[[bool], ClientShape]
    whole_message: WholeMessage


ENTRIES: tuple[ApiEntry, ...] = (
    ApiEntry(
        anthropic_messages.ANTHROPIC_MESSAGES,
        anthropic_messages.ENDPOINTS,
        AnthropicCodec,
        AnthropicDecoder,
        AnthropicEncoder,
        anthropic_messages_request.decode_request,
        anthropic_messages_request.encode_request,
        AnthropicShape,
        anthropic_messages_message.WHOLE_MESSAGE,
    ),
    ApiEntry(
        openai_chat.OPENAI_CHAT,
        openai_chat.ENDPOINTS,
        OpenAIChatCodec,
        OpenAIChatDecoder,
        OpenAIChatEncoder,
        openai_chat_request.decode_request,
        openai_chat_request.encode_request,
        ChatShape,
        openai_chat_message.WHOLE_MESSAGE,
    ),
    ApiEntry(
        openai_responses.OPENAI_RESPONSES,
        openai_responses.ENDPOINTS,
        OpenAIResponsesCodec,
        OpenAIResponsesDecoder,
        OpenAIResponsesEncoder,
        openai_responses_request.decode_request,
        openai_responses_request.encode_request,
        ResponsesShape,
        openai_responses_message.WHOLE_MESSAGE,
    ),
)
"""Every client API, in the order the gateway lists them."""

APIS: tuple[WireApi, ...] = tuple(entry.api for entry in ENTRIES)
"""Every client API object."""
BY_NAME: Mapping[str, WireApi] = {entry.api.name: entry.api for entry in ENTRIES}
"""The APIs by `WireApi.name` (as records store it)."""
ENDPOINTS: tuple[Endpoint, ...] = tuple(endpoint for entry in ENTRIES for endpoint in entry.endpoints)
"""Every model-call endpoint the gateway serves."""
BY_PATH: Mapping[str, Endpoint] = {endpoint.path: endpoint for endpoint in ENDPOINTS}
"""The model-call endpoints by request path."""
BY_DIALECT: Mapping[WireFormat, tuple[WireApi, ...]] = {
    dialect: tuple(api for api in APIS if api.format is dialect) for dialect in WireFormat
}
"""The client APIs of each dialect: an unrouted call goes to the built-in upstream of its dialect."""

SERVED_APIS: Mapping[UpstreamApi, frozenset[WireApi]] = {
    UpstreamApi.ANTHROPIC: frozenset({anthropic_messages.ANTHROPIC_MESSAGES}),
    UpstreamApi.OPENAI: frozenset({openai_chat.OPENAI_CHAT, openai_responses.OPENAI_RESPONSES}),
    UpstreamApi.OPENAI_CHAT: frozenset({openai_chat.OPENAI_CHAT}),
}
"""The client APIs each upstream `format` answers natively."""
TRANSLATION_TARGETS: Mapping[UpstreamApi, WireApi] = {
    UpstreamApi.ANTHROPIC: anthropic_messages.ANTHROPIC_MESSAGES,
    UpstreamApi.OPENAI_CHAT: openai_chat.OPENAI_CHAT,
    # The only client API an `openai` upstream does not serve is Messages. Chat is its target, not
    # Responses: Messages and Chat are both stateless lists of turns that map block for block, and
    # `format: openai` also names OpenAI-compatible gateways (Azure, OpenRouter, LiteLLM) that serve
    # Chat fully but Responses partly or not at all.
    UpstreamApi.OPENAI: openai_chat.OPENAI_CHAT,
}
"""The API a call an upstream does not serve is translated to; also the API of Luthien's own calls."""

_ENTRIES_BY_API: Mapping[WireApi, ApiEntry] = {entry.api: entry for entry in ENTRIES}


def entry_of(api: WireApi) -> ApiEntry:
    """The registry entry of `api` (every `WireApi` Luthien serves has one)."""
    return _ENTRIES_BY_API[api]


def find_entry(api: WireApi) -> ApiEntry | None:
    """The registry entry of `api`, or None for an API Luthien does not serve."""
    return _ENTRIES_BY_API.get(api)


def named(name: str) -> WireApi:
    """The API a record names (`WireApi.name`); a name no API has reads as Responses, as it always has."""
    return BY_NAME.get(name, openai_responses.OPENAI_RESPONSES)


def new_shape(api: WireApi, usage_chunk: bool = True) -> ClientShape:
    """A fresh `ClientShape` for one translated call to a client of `api`."""
    return _ENTRIES_BY_API[api].new_shape(usage_chunk)


def new_codec(api: WireApi) -> CallCodec:
    """A fresh codec for one call whose client and upstream both speak `api`."""
    return _ENTRIES_BY_API[api].new_codec()
