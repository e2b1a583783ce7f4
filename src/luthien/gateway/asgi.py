"""Small ASGI building blocks: bounded body reads, JSON and streaming answers, disconnect handling.

Also the transaction-id middleware that stamps every response with `X-Luthien-Transaction-Id`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Coroutine
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luthien.records.transaction_id import transaction_id
from luthien.wire.errors import ErrorKind, GatewayError

TRANSACTION_HEADER = b"x-luthien-transaction-id"
JSON_CONTENT_TYPE = (b"content-type", b"application/json")


class ClientDisconnected(Exception):
    """The client closed the connection before its request was answered."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read the whole request body.

    Raises:
        GatewayError: REQUEST_TOO_LARGE when it exceeds `limit` bytes.
        ClientDisconnected: the client left while sending.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayError(ErrorKind.REQUEST_TOO_LARGE, f"request body exceeds {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete response with its length; `headers` should carry the content type."""
    all_headers = [*(headers or [JSON_CONTENT_TYPE]), (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def send_stream(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], chunks: AsyncIterator[bytes]
) -> None:
    """Send a streaming response, one body message per chunk."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    async for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def until_disconnect(receive: Receive, work: Coroutine[Any, Any, None]) -> None:
    """Run `work`; cancel it the moment the client disconnects.

    Call only after the request body has been read, so `receive()` can mean nothing but
    a disconnect. `work` runs in the caller's own task; one watcher task waits for the disconnect
    and cancels the caller, whose cancellation is then taken back (`uncancel`) so the caller goes
    on (to record the call) as if `work` had returned. A second task for `work` and an
    `asyncio.wait` over both cost twice as much per call.
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - ASGI apps always run in a task
        raise RuntimeError("until_disconnect needs a task")
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        while (await receive())["type"] != "http.disconnect":
            pass
        disconnected = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        await work
    except asyncio.CancelledError:
        if not disconnected or task.uncancel() > 0:
            raise  # cancelled from elsewhere (server shutdown): not ours to swallow
        return
    finally:
        watcher.cancel()
    if disconnected:
        task.uncancel()  # `work` swallowed the disconnect's cancellation and finished


class TransactionIdMiddleware:
    """Gives every HTTP request a transaction id, and every response the header that carries it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap `send` so the response start carries the header."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = (TRANSACTION_HEADER, transaction_id(scope).encode("ascii"))

        def send_with_id(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            return send(message)

        await self.app(scope, receive, send_with_id)
