"""A bare byte relay: the least any HTTP proxy in Python can do, measured beside Luthien.

Usage: `python bench/relay.py PORT UPSTREAM_URL`

aiohttp.web on uvloop, one pooled aiohttp client: every request (method, path, query, body and the
content headers) is sent to the upstream as is, and the upstream's status, content type and body are
sent back as they arrive (`iter_any`: one write per upstream read). No parsing, no validation, no
policy, no records: what Luthien adds over it is the cost of what it does, not of being a proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import aiohttp
import uvloop
from aiohttp import web

FORWARDED_HEADERS = ("content-type", "anthropic-version", "x-api-key", "authorization")
"""Request headers passed on (the rest are hop-by-hop or irrelevant to the fake upstream)."""
POOL_SIZE = 0
"""aiohttp's connection limit: 0 is unlimited, as Luthien's pool is sized for any load."""


async def relay(request: web.Request) -> web.StreamResponse:
    """Forward one request and stream the answer back."""
    session: aiohttp.ClientSession = request.app["session"]
    headers = {name: value for name in FORWARDED_HEADERS if (value := request.headers.get(name)) is not None}
    body = await request.read()
    upstream: str = request.app["upstream"]
    async with session.request(
        request.method, upstream + request.path_qs, data=body, headers=headers
    ) as answer:
        response = web.StreamResponse(status=answer.status)
        response.content_type = answer.content_type
        if answer.content_length is not None:
            response.content_length = answer.content_length
        await response.prepare(request)
        async for chunk in answer.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def serve(port: int, upstream: str) -> None:
    """Serve on 127.0.0.1:`port` until cancelled."""
    app = web.Application()
    app["upstream"] = upstream.rstrip("/")
    app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL_SIZE))
    app.router.add_route("*", "/{tail:.*}", relay)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await app["session"].close()


def main() -> None:
    """Entry point: `python bench/relay.py PORT UPSTREAM_URL`."""
    if len(sys.argv) != 3:
        sys.exit("usage: relay.py PORT UPSTREAM_URL")
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(int(sys.argv[1]), sys.argv[2]))


if __name__ == "__main__":
    main()
