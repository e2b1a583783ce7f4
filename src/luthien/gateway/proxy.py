"""The model-call endpoints: validate, authenticate, route, forward, run the response through the pipeline.

One `ProxyEndpoint` serves each of `/v1/messages`, `/v1/messages/count_tokens`,
`/v1/chat/completions` and `/v1/responses`. The request body is forwarded as the exact bytes the
client sent; the query string is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from multidict import CIMultiDict
from starlette.types import Receive, Scope, Send

from luthien.gateway.asgi import (
    JSON_CONTENT_TYPE,
    ClientDisconnected,
    read_body,
    send_bytes,
    send_stream,
    until_disconnect,
)
from luthien.gateway.auth import use_server_key
from luthien.gateway.headers import client_response_headers, upstream_request_headers
from luthien.gateway.state import GatewayState, client_headers
from luthien.pipeline.run import run_body, run_stream
from luthien.pipeline.stage import PassThroughStage, PolicyStage
from luthien.upstream.client import UpstreamResponse
from luthien.upstream.routing import Upstream
from luthien.wire.apis import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, WireApi
from luthien.wire.errors import ErrorKind, GatewayError, dumps

# How much of a non-JSON upstream error body is quoted back to the client.
UPSTREAM_ERROR_EXCERPT_CHARS = 500


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One model-call endpoint.

    Attributes:
        path: the client-facing path (also the upstream path).
        api: the client API spoken on it.
        required: top-level body fields that must be present, with their JSON types.
        applies_policy: False for calls that are forwarded untouched (token counting).
    """

    path: str
    api: WireApi
    required: dict[str, type]
    applies_policy: bool = True


MESSAGES = Endpoint("/v1/messages", ANTHROPIC_MESSAGES, {"model": str, "max_tokens": int, "messages": list})
COUNT_TOKENS = Endpoint(
    "/v1/messages/count_tokens", ANTHROPIC_MESSAGES, {"model": str, "messages": list}, applies_policy=False
)
CHAT_COMPLETIONS = Endpoint("/v1/chat/completions", OPENAI_CHAT, {"model": str, "messages": list})
RESPONSES = Endpoint("/v1/responses", OPENAI_RESPONSES, {"model": str})
ENDPOINTS = (MESSAGES, COUNT_TOKENS, CHAT_COMPLETIONS, RESPONSES)

_PASS_THROUGH = PassThroughStage()


async def send_error(send: Send, api: WireApi, error: GatewayError) -> None:
    """Answer with `error` in the client's shape."""
    await send_bytes(send, error.kind.status, dumps(api.error_body(error.kind, error.message)))


async def forward_upstream_error(send: Send, api: WireApi, response: UpstreamResponse) -> None:
    """Pass an upstream HTTP error back with its status; wrap a non-JSON body in the client's shape."""
    body = await response.read()
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        kind = ErrorKind.INVALID_REQUEST if response.status < 500 else ErrorKind.UPSTREAM_UNAVAILABLE
        excerpt = body[:UPSTREAM_ERROR_EXCERPT_CHARS].decode("utf-8", errors="replace")
        message = f"upstream answered HTTP {response.status}: {excerpt}"
        await send_bytes(send, response.status, dumps(api.error_body(kind, message)))
        return
    headers = [header for header in client_response_headers(response.headers) if header[0] != b"content-type"]
    await send_bytes(send, response.status, body, [JSON_CONTENT_TYPE, *headers])


class ProxyEndpoint:
    """ASGI app for one `Endpoint`."""

    def __init__(self, endpoint: Endpoint, state: GatewayState) -> None:
        self.endpoint = endpoint
        self.state = state
        self.stage: PolicyStage = state.stage if endpoint.applies_policy else _PASS_THROUGH

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one call."""
        api = self.endpoint.api
        headers = client_headers(scope["headers"])
        try:
            server_key = use_server_key(headers, self.state.settings)
            body = await read_body(receive, self.state.settings.max_request_bytes)
            upstream = self._route(body)
        except GatewayError as error:
            await send_error(send, api, error)
            return
        except ClientDisconnected:
            return
        upstream_headers = upstream_request_headers(
            headers, upstream.format, upstream.config.resolved_api_key(), server_key
        )
        url = upstream.url(self.endpoint.path, scope["query_string"].decode("latin-1"))
        await until_disconnect(receive, self._forward(send, url, upstream_headers, body))

    def _route(self, body: bytes) -> Upstream:
        api = self.endpoint.api
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, f"request body is not valid JSON: {error}"
            ) from error
        fields = api.validate_request(parsed, self.endpoint.required)
        upstream = self.state.router.resolve(fields["model"], api.format)
        if upstream.format is not api.format:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"model {fields['model']!r} routes to upstream {upstream.name!r}, which speaks the "
                f"{upstream.format.value} format; translating {api.format.value} requests to it is not "
                "supported",
            )
        return upstream

    async def _forward(self, send: Send, url: str, headers: CIMultiDict[str], body: bytes) -> None:
        api = self.endpoint.api
        try:
            async with self.state.client.request("POST", url, headers, body) as response:
                if response.status >= 400:
                    await forward_upstream_error(send, api, response)
                    return
                response_headers = client_response_headers(response.headers)
                if response.is_event_stream:
                    events = run_stream(api, response.chunks(), self.stage)
                    await send_stream(send, response.status, response_headers, events)
                    return
                out = await run_body(api, await response.read(), self.stage)
                await send_bytes(send, response.status, out, response_headers)
        except GatewayError as error:
            await send_error(send, api, error)
