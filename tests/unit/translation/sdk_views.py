"""What each official SDK makes of a response's bytes, as one comparable view.

The bytes are served by an HTTP server on loopback to the SDK's own client, which parses and
accumulates them with its own stream helpers:
`messages.stream(...).get_final_message()`, `chat.completions.stream(...).get_final_completion()`,
`responses.stream(...).get_final_response()` (or `create` for whole bodies). Each result is reduced to
a `View`: text, reasoning, refusal, tool calls (id, name, parsed arguments), stop and usage.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import openai

from luthien.pipeline.run import run_body, run_stream
from luthien.pipeline.stage import ResponseStage, TranslationStage
from luthien.testing.streams import WIRE_APIS, ApiName, ModelReply

MODEL = "test-model"
PROMPT: list[Any] = [{"role": "user", "content": "hi"}]

ANTHROPIC_STOPS = {"end_turn": "end", "tool_use": "tool", "max_tokens": "max", "refusal": "refusal"}
CHAT_STOPS = {"stop": "end", "tool_calls": "tool", "length": "max", "content_filter": "refusal"}


@dataclass(frozen=True)
class View:
    """What a client sees of a response, in terms every API shares."""

    text: str
    reasoning: str
    refusal: str
    tool_calls: tuple[tuple[str, str, Any], ...]
    stop: str
    usage: tuple[int, int] | None


async def _reads(frames: Sequence[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


def translate(reply: ModelReply, client: ApiName, stage: ResponseStage | None = None) -> bytes:
    """The bytes a client of `client` gets for `reply` through `stage` (default: no policy)."""
    upstream_api, client_api = WIRE_APIS[reply.api], WIRE_APIS[client]
    stage = stage or TranslationStage(client_api, upstream_api)

    async def go() -> bytes:
        if reply.body is not None:
            return await run_body(client_api, reply.body, stage, upstream_api)
        pieces = [piece async for piece in run_stream(client_api, _reads(reply.frames), stage, upstream_api)]
        return b"".join(pieces)

    return asyncio.run(go())


class Loopback:
    """An HTTP server on 127.0.0.1 answering every request with the answer set last (one per process)."""

    def __init__(self) -> None:
        self.answer: tuple[int, str, bytes] = (200, "application/json", b"{}")
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                status, content_type, body = owner.answer
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"


_LOOPBACK: list[Loopback] = []


def serve(body: bytes, streaming: bool, status: int = 200) -> str:
    """Make the loopback server answer with `body`; its base URL."""
    if not _LOOPBACK:
        _LOOPBACK.append(Loopback())
    _LOOPBACK[0].answer = (status, "text/event-stream" if streaming else "application/json", body)
    return _LOOPBACK[0].url


def anthropic_view(data: bytes, streaming: bool) -> View:
    """What the Anthropic SDK makes of the bytes."""
    with anthropic.Anthropic(base_url=serve(data, streaming), api_key="k", max_retries=0) as client:
        if streaming:
            with client.messages.stream(model=MODEL, max_tokens=100, messages=PROMPT) as stream:
                message = stream.get_final_message()
        else:
            message = client.messages.create(model=MODEL, max_tokens=100, messages=PROMPT)
    text = "".join(block.text for block in message.content if block.type == "text")
    reasoning = "".join(block.thinking for block in message.content if block.type == "thinking")
    calls = tuple((b.id, b.name, b.input) for b in message.content if b.type == "tool_use")
    usage = (message.usage.input_tokens, message.usage.output_tokens)
    return View(text, reasoning, "", calls, ANTHROPIC_STOPS[str(message.stop_reason)], usage)


def chat_view(data: bytes, streaming: bool) -> View:
    """What the OpenAI SDK makes of the bytes of a Chat Completions answer."""
    with openai.OpenAI(base_url=serve(data, streaming) + "/v1", api_key="k", max_retries=0) as client:
        if streaming:
            with client.chat.completions.stream(model=MODEL, messages=PROMPT) as stream:
                try:
                    completion: Any = stream.get_final_completion()
                except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError):
                    # The helper refuses to parse a cut or filtered answer: what it accumulated.
                    completion = stream.current_completion_snapshot
        else:
            completion = client.chat.completions.create(model=MODEL, messages=PROMPT)
    choice = completion.choices[0]
    message = choice.message
    calls = tuple(
        (call.id, call.function.name, json.loads(call.function.arguments))
        for call in message.tool_calls or []
        if call.type == "function"
    )
    reasoning = str(getattr(message, "reasoning_content", None) or "")
    usage = (
        None
        if completion.usage is None
        else (completion.usage.prompt_tokens, completion.usage.completion_tokens)
    )
    return View(
        message.content or "",
        reasoning,
        message.refusal or "",
        calls,
        CHAT_STOPS[choice.finish_reason],
        usage,
    )


def responses_view(data: bytes, streaming: bool) -> View:
    """What the OpenAI SDK makes of the bytes of a Responses answer."""
    with openai.OpenAI(base_url=serve(data, streaming) + "/v1", api_key="k", max_retries=0) as client:
        if streaming:
            with client.responses.stream(model=MODEL, input="hi") as stream:
                if b"response.incomplete" in data:  # the helper's final response is a completed one
                    events = list(stream)
                    response: Any = events[-1].response  # type: ignore[union-attr]
                else:
                    response = stream.get_final_response()
        else:
            response = client.responses.create(model=MODEL, input="hi")
    text, reasoning, refusal, calls = "", "", "", []
    for item in response.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "output_text":
                    text += part.text
                else:
                    refusal += part.refusal
        elif item.type == "reasoning":
            reasoning += "".join(part.text for part in item.summary)
        elif item.type == "function_call":
            calls.append((item.call_id, item.name, json.loads(item.arguments)))
    stop = "max" if response.status == "incomplete" else "tool" if calls else "end"
    usage = None if response.usage is None else (response.usage.input_tokens, response.usage.output_tokens)
    return View(text, reasoning, refusal, tuple(calls), stop, usage)


VIEWS = {"anthropic": anthropic_view, "openai_chat": chat_view, "openai_responses": responses_view}


def view(api: ApiName, data: bytes, streaming: bool) -> View:
    """What `api`'s SDK makes of the bytes."""
    return VIEWS[api](data, streaming)
