"""Answers Luthien sends on its own or relays from an upstream's error: always in the client's shape."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.types import Send

from luthien.gateway.asgi import JSON_CONTENT_TYPE, send_bytes
from luthien.gateway.headers import client_response_headers
from luthien.upstream.client import UpstreamResponse
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError, dumps

# How much of a non-JSON upstream error body is quoted back to the client.
UPSTREAM_ERROR_EXCERPT_CHARS = 500


async def send_error(
    send: Send, api: WireApi, error: GatewayError, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer with `error` in the client's shape, with the error's own headers (`Retry-After`)."""
    body = dumps(api.error_body(error.kind, error.message))
    await send_bytes(
        send,
        api.error_status(error.kind),
        body,
        merged_headers([JSON_CONTENT_TYPE, *(extra or [])], error.headers),
    )


async def forward_upstream_error(
    send: Send, api: WireApi, response: UpstreamResponse, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Pass an upstream HTTP error back with its status; wrap a non-JSON body in the client's shape."""
    await send_upstream_error(send, api, response.status, response.headers, await response.read(), extra)


async def send_upstream_error(
    send: Send,
    api: WireApi,
    status: int,
    upstream_headers: Iterable[tuple[str, str]],
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """See `forward_upstream_error`, for a body already read."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        kind = ErrorKind.INVALID_REQUEST if status < 500 else ErrorKind.UPSTREAM_UNAVAILABLE
        excerpt = body[:UPSTREAM_ERROR_EXCERPT_CHARS].decode("utf-8", errors="replace")
        message = f"upstream answered HTTP {status}: {excerpt}"
        await send_bytes(
            send, status, dumps(api.error_body(kind, message)), [JSON_CONTENT_TYPE, *(extra or [])]
        )
        return
    headers = [header for header in client_response_headers(upstream_headers) if header[0] != b"content-type"]
    await send_bytes(send, status, body, [JSON_CONTENT_TYPE, *merged_headers(headers, extra or [])])


def merged_headers(
    headers: Iterable[tuple[bytes, bytes]], ours: Iterable[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers` then `ours`, where ours replace any of the same name (Luthien's rate-limit headers)."""
    ours = list(ours)
    names = {name for name, _ in ours}
    return [*(header for header in headers if header[0] not in names), *ours]
