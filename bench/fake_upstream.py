"""A minimal, fast fake LLM provider for benchmarks (aiohttp.web on uvloop, orjson).

Usage: `python bench/fake_upstream.py PORT`

- `POST /v1/messages`: a fixed Anthropic message, or with `"stream": true` an Anthropic SSE stream
  (message_start, ping, content_block_start, N content_block_delta, content_block_stop,
  message_delta, message_stop).
- `POST /v1/chat/completions`: the same for OpenAI Chat (chunks ended by `data: [DONE]`).
- `GET /health`: 200.

Streams have `deltas` text deltas (query parameter, else env `FAKE_DELTAS`, default 20), each
preceded by a pause of `delta_delay_ms` milliseconds (query parameter, else env
`FAKE_DELTA_DELAY_MS`, default 0), so time-to-first-token can be measured. Every response body that
does not depend on those parameters is serialized once, at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Any, cast

import orjson
import uvloop
from aiohttp import web

DEFAULT_DELTAS = int(os.environ.get("FAKE_DELTAS", "20"))
DEFAULT_DELAY_MS = float(os.environ.get("FAKE_DELTA_DELAY_MS", "0"))
MODEL = "claude-fake-1"
WORDS = ("Hello", " there", ",", " this", " is", " a", " fake", " streamed", " answer", ".")
TEXT = "Hello! This is a fake answer from the benchmark upstream."

ANTHROPIC_MESSAGE = orjson.dumps(
    {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 14},
    }
)
OPENAI_COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": TEXT},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 14, "total_tokens": 26},
    }
)
RESPONSE_HEADERS = {"request-id": "req_fake", "content-type": "application/json"}
STREAM_HEADERS = {"request-id": "req_fake", "content-type": "text/event-stream", "cache-control": "no-cache"}


def anthropic_frame(event: str, data: dict[str, Any]) -> bytes:
    """One named Anthropic SSE frame."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def openai_frame(data: dict[str, Any]) -> bytes:
    """One unnamed OpenAI SSE frame."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


ANTHROPIC_HEAD = (
    anthropic_frame(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        },
    ),
    anthropic_frame("ping", {"type": "ping"}),
    anthropic_frame(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
)
ANTHROPIC_DELTAS = tuple(
    anthropic_frame(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}},
    )
    for word in WORDS
)


def anthropic_tail(deltas: int) -> tuple[bytes, ...]:
    """The frames after the last text delta."""
    return (
        anthropic_frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        anthropic_frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": deltas},
            },
        ),
        anthropic_frame("message_stop", {"type": "message_stop"}),
    )


def openai_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    """One OpenAI chat.completion.chunk frame."""
    return openai_frame(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
    )


OPENAI_HEAD = (openai_chunk({"role": "assistant", "content": ""}),)
OPENAI_DELTAS = tuple(openai_chunk({"content": word}) for word in WORDS)
OPENAI_TAIL = (openai_chunk({}, "stop"), b"data: [DONE]\n\n")


def stream_parameters(request: web.Request) -> tuple[int, float]:
    """Number of deltas and the pause before each, in seconds, from the query or the environment."""
    query = request.query
    deltas = int(query.get("deltas", DEFAULT_DELTAS))
    delay_ms = float(query.get("delta_delay_ms", DEFAULT_DELAY_MS))
    return deltas, delay_ms / 1000.0


async def wants_stream(request: web.Request) -> bool:
    """Whether the JSON request body asks for a stream."""
    body = await request.read()
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and cast(dict[str, Any], parsed).get("stream") is True


async def stream(
    request: web.Request, head: tuple[bytes, ...], deltas: tuple[bytes, ...], tail: tuple[bytes, ...] | None
) -> web.StreamResponse:
    """Write head frames, then the deltas (paced), then the tail, one write per frame."""
    count, delay = stream_parameters(request)
    response = web.StreamResponse(headers=STREAM_HEADERS)
    await response.prepare(request)
    for frame in head:
        await response.write(frame)
    for index in range(count):
        if delay > 0:
            await asyncio.sleep(delay)
        await response.write(deltas[index % len(deltas)])
    for frame in tail if tail is not None else anthropic_tail(count):
        await response.write(frame)
    await response.write_eof()
    return response


async def messages(request: web.Request) -> web.StreamResponse:
    """`POST /v1/messages`."""
    if await wants_stream(request):
        return await stream(request, ANTHROPIC_HEAD, ANTHROPIC_DELTAS, None)
    return web.Response(body=ANTHROPIC_MESSAGE, headers=RESPONSE_HEADERS)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """`POST /v1/chat/completions`."""
    if await wants_stream(request):
        return await stream(request, OPENAI_HEAD, OPENAI_DELTAS, OPENAI_TAIL)
    return web.Response(body=OPENAI_COMPLETION, headers=RESPONSE_HEADERS)


async def health(request: web.Request) -> web.Response:
    """`GET /health`."""
    return web.Response(body=b'{"status":"ok"}', headers=RESPONSE_HEADERS)


def make_app() -> web.Application:
    """The fake provider's routes."""
    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/health", health)
    return app


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:`port` until cancelled."""
    runner = web.AppRunner(make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Entry point: `python bench/fake_upstream.py PORT`."""
    if len(sys.argv) != 2:
        sys.exit("usage: fake_upstream.py PORT")
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
