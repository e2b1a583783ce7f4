"""`GET /v1/models`: the models of every configured upstream that speaks the client's format.

A request with an `anthropic-version` header is an Anthropic client; anything else is an OpenAI
client. With one upstream of that format its answer is passed through untouched (pagination
included); with several, their lists are fetched concurrently and merged (duplicates by `id`
dropped). Upstreams that fail are left out; if all fail, the answer is a 502 in the client's shape.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
from multidict import CIMultiDict
from starlette.types import Receive, Scope, Send

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.gateway.asgi import JSON_CONTENT_TYPE, send_bytes, until_disconnect
from luthien.gateway.auth import use_server_key
from luthien.gateway.headers import client_response_headers, upstream_request_headers
from luthien.gateway.replies import forward_upstream_error, send_error
from luthien.gateway.state import GatewayState, client_headers
from luthien.upstream.routing import Upstream
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError, dumps
from luthien.wire.formats import WireFormat

MODELS_PATH = "/v1/models"


def _model_list(body: bytes) -> list[Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(parsed, dict):
        return []
    data: Any = cast(dict[str, Any], parsed).get("data")
    return cast(list[Any], data) if isinstance(data, list) else []


def _merge(wire_format: WireFormat, lists: list[list[Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    merged: list[Any] = []
    for models in lists:
        for model in models:
            model_id: Any = cast(dict[str, Any], model).get("id") if isinstance(model, dict) else None
            if isinstance(model_id, str) and model_id not in seen:
                seen.add(model_id)
                merged.append(model)
    if wire_format is WireFormat.OPENAI:
        return {"object": "list", "data": merged}
    return {
        "data": merged,
        "has_more": False,
        "first_id": merged[0]["id"] if merged else None,
        "last_id": merged[-1]["id"] if merged else None,
    }


class ModelsEndpoint:
    """ASGI app for `GET /v1/models`."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """List models in the client's format."""
        headers = client_headers(scope["headers"])
        is_anthropic = any(name == "anthropic-version" for name, _ in headers)
        api = ANTHROPIC_MESSAGES if is_anthropic else OPENAI_CHAT
        try:
            server_key = use_server_key(headers, self.state.settings)
        except GatewayError as error:
            await send_error(send, api, error)
            return
        query = scope["query_string"].decode("latin-1")
        upstreams = self.state.router.by_format(api.format)
        await until_disconnect(receive, self._list(send, api, upstreams, headers, server_key, query))

    async def _list(
        self,
        send: Send,
        api: WireApi,
        upstreams: list[Upstream],
        headers: list[tuple[str, str]],
        server_key: bool,
        query: str,
    ) -> None:
        def request_headers(upstream: Upstream) -> CIMultiDict[str]:
            return upstream_request_headers(
                headers, upstream.format, upstream.config.resolved_api_key(), server_key
            )

        client = self.state.client
        try:
            if len(upstreams) == 1:
                upstream = upstreams[0]
                async with client.request(
                    "GET", upstream.url(MODELS_PATH, query), request_headers(upstream)
                ) as response:
                    if response.status >= 400:
                        await forward_upstream_error(send, api, response)
                        return
                    body = await response.read()
                    await send_bytes(send, response.status, body, client_response_headers(response.headers))
                return

            async def fetch(upstream: Upstream) -> list[Any]:
                async with client.request(
                    "GET", upstream.url(MODELS_PATH, query), request_headers(upstream)
                ) as response:
                    body = await response.read()
                    if response.status >= 400:
                        raise GatewayError(
                            ErrorKind.UPSTREAM_UNAVAILABLE,
                            f"upstream {upstream.name!r} answered HTTP {response.status}",
                        )
                    return _model_list(body)

            results = await asyncio.gather(*(fetch(u) for u in upstreams), return_exceptions=True)
            lists = [result for result in results if isinstance(result, list)]
            if not lists:
                first = results[0]
                raise (
                    first
                    if isinstance(first, GatewayError)
                    else GatewayError(ErrorKind.UPSTREAM_UNAVAILABLE, "no upstream answered the model list")
                )
            await send_bytes(send, 200, dumps(_merge(api.format, lists)), [JSON_CONTENT_TYPE])
        except GatewayError as error:
            await send_error(send, api, error)
