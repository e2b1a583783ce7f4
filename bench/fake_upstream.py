"""A minimal, fast fake LLM provider for benchmarks (aiohttp.web on uvloop, orjson).

Usage: `python bench/fake_upstream.py PORT`

- `POST /v1/messages`: a fixed Anthropic message, or with `"stream": true` an Anthropic SSE stream
  (message_start, ping, content_block_start, N content_block_delta, content_block_stop,
  message_delta, message_stop).
- `POST /v1/chat/completions`: the same for OpenAI Chat (chunks ended by `data: [DONE]`, after a
  usage chunk when the request sets `stream_options.include_usage`, as translated calls do).
- `POST /v1/responses`: the same for OpenAI Responses (response.created, response.in_progress,
  output_item.added, content_part.added, N output_text.delta, output_text.done, content_part.done,
  output_item.done, response.completed with the usage; every event with its `sequence_number`).
- `GET /health`: 200.

Streams have `deltas` text deltas (query parameter, else env `FAKE_DELTAS`, default 20), each
preceded by a pause of `delta_delay_ms` milliseconds (query parameter, else env
`FAKE_DELTA_DELAY_MS`, default 0), so time-to-first-token can be measured. Every response body that
does not depend on those parameters is serialized once, at start-up; the frames of a stream of N
deltas are built once per N.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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

INPUT_TOKENS = 12
CREATED = 1700000000
"""The `created` / `created_at` time every OpenAI answer carries (fixed: the bodies are precomputed)."""
CACHED_STREAM_SHAPES = 64
"""Distinct delta counts whose frames are kept (a run uses two or three)."""

StreamFrames = tuple[tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...]]
"""A stream's frames: those before the text deltas, the deltas (paced), and those after."""


def streamed_text(deltas: int) -> str:
    """The text a stream of `deltas` deltas spells out."""
    return "".join(WORDS[index % len(WORDS)] for index in range(deltas))


ANTHROPIC_MESSAGE = orjson.dumps(
    {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 14},
    }
)
OPENAI_COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": TEXT},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": 14, "total_tokens": 26},
    }
)
RESPONSE_HEADERS = {"request-id": "req_fake", "content-type": "application/json"}
STREAM_HEADERS = {"request-id": "req_fake", "content-type": "text/event-stream", "cache-control": "no-cache"}


def anthropic_frame(event: str, data: dict[str, Any]) -> bytes:
    """One named SSE frame (Anthropic and OpenAI Responses name their events)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def openai_frame(data: dict[str, Any]) -> bytes:
    """One unnamed OpenAI SSE frame."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


# ---------------------------------------------------------------------------------------------
# Anthropic Messages

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
                "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1},
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


@functools.lru_cache(maxsize=CACHED_STREAM_SHAPES)
def anthropic_stream(deltas: int) -> StreamFrames:
    """An Anthropic Messages stream of `deltas` text deltas."""
    tail = (
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
    body = tuple(ANTHROPIC_DELTAS[index % len(ANTHROPIC_DELTAS)] for index in range(deltas))
    return ANTHROPIC_HEAD, body, tail


# ---------------------------------------------------------------------------------------------
# OpenAI Chat Completions


def openai_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    """One OpenAI chat.completion.chunk frame."""
    return openai_frame(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
    )


OPENAI_HEAD = (openai_chunk({"role": "assistant", "content": ""}),)
OPENAI_DELTAS = tuple(openai_chunk({"content": word}) for word in WORDS)
OPENAI_DONE = b"data: [DONE]\n\n"


@functools.lru_cache(maxsize=CACHED_STREAM_SHAPES)
def chat_stream(deltas: int, include_usage: bool) -> StreamFrames:
    """A Chat Completions stream of `deltas` content deltas, with the usage chunk when asked for."""
    tail = [openai_chunk({}, "stop")]
    if include_usage:
        usage = {
            "prompt_tokens": INPUT_TOKENS,
            "completion_tokens": deltas,
            "total_tokens": INPUT_TOKENS + deltas,
        }
        tail.append(
            openai_frame(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": CREATED,
                    "model": MODEL,
                    "choices": [],
                    "usage": usage,
                }
            )
        )
    tail.append(OPENAI_DONE)
    body = tuple(OPENAI_DELTAS[index % len(OPENAI_DELTAS)] for index in range(deltas))
    return OPENAI_HEAD, body, tuple(tail)


# ---------------------------------------------------------------------------------------------
# OpenAI Responses

RESPONSE_ID = "resp_fake"
RESPONSE_ITEM_ID = "msg_fake"


def responses_usage(output_tokens: int) -> dict[str, Any]:
    """A Responses `usage` object."""
    return {
        "input_tokens": INPUT_TOKENS,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": INPUT_TOKENS + output_tokens,
    }


def output_text_part(text: str) -> dict[str, Any]:
    """A message's `output_text` content part."""
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def responses_message(text: str, status: str) -> dict[str, Any]:
    """The assistant's message output item (no content while it is in progress)."""
    content = [output_text_part(text)] if status == "completed" else []
    return {
        "id": RESPONSE_ITEM_ID,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def response_object(
    status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None
) -> dict[str, Any]:
    """A Responses `response` object, as the API returns it (the fields an SDK reads, and a few more)."""
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


RESPONSES_BODY = orjson.dumps(
    response_object("completed", [responses_message(TEXT, "completed")], responses_usage(14))
)


@functools.lru_cache(maxsize=CACHED_STREAM_SHAPES)
def responses_stream(deltas: int) -> StreamFrames:
    """A Responses stream of `deltas` `response.output_text.delta` events."""
    frames: list[bytes] = []

    def event(kind: str, **fields: Any) -> bytes:
        frame = anthropic_frame(kind, {"type": kind, **fields, "sequence_number": len(frames)})
        frames.append(frame)
        return frame

    text = streamed_text(deltas)
    at = {"item_id": RESPONSE_ITEM_ID, "output_index": 0, "content_index": 0}
    in_progress = response_object("in_progress", [], None)
    head = (
        event("response.created", response=in_progress),
        event("response.in_progress", response=in_progress),
        event("response.output_item.added", output_index=0, item=responses_message("", "in_progress")),
        event("response.content_part.added", **at, part=output_text_part("")),
    )
    body = tuple(
        event("response.output_text.delta", **at, delta=WORDS[index % len(WORDS)], logprobs=[])
        for index in range(deltas)
    )
    done = responses_message(text, "completed")
    tail = (
        event("response.output_text.done", **at, text=text, logprobs=[]),
        event("response.content_part.done", **at, part=output_text_part(text)),
        event("response.output_item.done", output_index=0, item=done),
        event("response.completed", response=response_object("completed", [done], responses_usage(deltas))),
    )
    return head, body, tail


# ---------------------------------------------------------------------------------------------
# Serving


def stream_parameters(request: web.Request) -> tuple[int, float]:
    """Number of deltas and the pause before each, in seconds, from the query or the environment."""
    query = request.query
    deltas = int(query.get("deltas", DEFAULT_DELTAS))
    delay_ms = float(query.get("delta_delay_ms", DEFAULT_DELAY_MS))
    return deltas, delay_ms / 1000.0


async def request_json(request: web.Request) -> dict[str, Any]:
    """The JSON request body (empty when it is not a JSON object)."""
    body = await request.read()
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return cast(dict[str, Any], parsed) if isinstance(parsed, dict) else {}


async def stream(request: web.Request, frames: StreamFrames, delay: float) -> web.StreamResponse:
    """Write the head frames, then the deltas (each after `delay` seconds), then the tail, one write each."""
    head, deltas, tail = frames
    response = web.StreamResponse(headers=STREAM_HEADERS)
    await response.prepare(request)
    for frame in head:
        await response.write(frame)
    for frame in deltas:
        if delay > 0:
            await asyncio.sleep(delay)
        await response.write(frame)
    for frame in tail:
        await response.write(frame)
    await response.write_eof()
    return response


async def messages(request: web.Request) -> web.StreamResponse:
    """`POST /v1/messages`."""
    if (await request_json(request)).get("stream") is True:
        count, delay = stream_parameters(request)
        return await stream(request, anthropic_stream(count), delay)
    return web.Response(body=ANTHROPIC_MESSAGE, headers=RESPONSE_HEADERS)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """`POST /v1/chat/completions`."""
    body = await request_json(request)
    if body.get("stream") is True:
        count, delay = stream_parameters(request)
        options: Any = body.get("stream_options")
        usage = isinstance(options, dict) and cast(dict[str, Any], options).get("include_usage") is True
        return await stream(request, chat_stream(count, usage), delay)
    return web.Response(body=OPENAI_COMPLETION, headers=RESPONSE_HEADERS)


async def responses(request: web.Request) -> web.StreamResponse:
    """`POST /v1/responses`."""
    if (await request_json(request)).get("stream") is True:
        count, delay = stream_parameters(request)
        return await stream(request, responses_stream(count), delay)
    return web.Response(body=RESPONSES_BODY, headers=RESPONSE_HEADERS)


async def health(request: web.Request) -> web.Response:
    """`GET /health`."""
    return web.Response(body=b'{"status":"ok"}', headers=RESPONSE_HEADERS)


def make_app() -> web.Application:
    """The fake provider's routes."""
    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/responses", responses)
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
