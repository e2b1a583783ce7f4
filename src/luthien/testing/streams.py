"""Upstream answers for `run_policy`: the real wire frames a provider sends, in any client API.

Each builder returns a `ModelReply`: the API it is in, and either the SSE frames of a stream (one
chunk per frame) or a whole JSON body. They are built by the fake provider's builders, so decoding
them gives events that carry their `origin`, and byte preservation can be asserted.

```python
reply = model_reply("anthropic", text="key sk-abc123 here", text_chunks=5)
reply = model_reply("openai_chat", tool_calls=[ToolCall("call_1", "Bash", {"command": "ls"})])
reply = model_reply("openai_responses", text="hi", thinking="let me think", stream=False)
reply = error_reply("anthropic", text="partial ")    # the upstream fails mid-stream
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.testing.fake_provider.anthropic_wire import (
    anthropic_error_event,
    anthropic_message,
    anthropic_stream,
)
from luthien.testing.fake_provider.openai_chat_wire import chat_completion, chat_stream, openai_error_body
from luthien.testing.fake_provider.openai_responses_wire import (
    response_object,
    responses_error_event,
    responses_stream,
)
from luthien.testing.fake_provider.script import ToolCall, sse_frame
from luthien.wire.apis import WireApi

ApiName = Literal["anthropic", "openai_chat", "openai_responses"]
"""The three client APIs, by the names the test kit uses."""

API_NAMES: tuple[ApiName, ...] = ("anthropic", "openai_chat", "openai_responses")
WIRE_APIS: dict[ApiName, WireApi] = {
    "anthropic": ANTHROPIC_MESSAGES,
    "openai_chat": OPENAI_CHAT,
    "openai_responses": OPENAI_RESPONSES,
}
UPSTREAM_ERROR_TYPE = "overloaded_error"
"""The error a mid-stream failure reports (`error_reply`)."""


@dataclass(frozen=True, slots=True)
class ModelReply:
    """What the upstream sends for one call.

    Attributes:
        api: the client API the reply is in.
        frames: the SSE frames of a streaming reply (empty for a whole body).
        body: the JSON body of a non-streaming reply (None for a stream).
    """

    api: ApiName
    frames: tuple[bytes, ...] = ()
    body: bytes | None = None

    @property
    def streaming(self) -> bool:
        """Whether this is a stream (else a whole body)."""
        return self.body is None

    @property
    def raw(self) -> bytes:
        """Every byte the upstream sends."""
        return self.body if self.body is not None else b"".join(self.frames)

    @property
    def wire_api(self) -> WireApi:
        """The pipeline's description of the API."""
        return WIRE_APIS[self.api]


def model_reply(
    api: ApiName = "anthropic",
    text: str = "",
    *,
    text_chunks: int = 3,
    thinking: str | None = None,
    tool_calls: Sequence[ToolCall] = (),
    json_chunks: int = 3,
    stream: bool = True,
) -> ModelReply:
    """A complete answer: thinking (or reasoning), text, then tool calls (several: parallel calls).

    Args:
        api: the client API.
        text: the model's text; empty with tool calls leaves the text block out.
        text_chunks: how many deltas the text is streamed in.
        thinking: thinking (Anthropic), reasoning summary (Responses) or `reasoning_content` (Chat).
        tool_calls: tool calls, sent in order; a `str` argument is sent verbatim (e.g. cut-off JSON).
        json_chunks: how many deltas each tool call's arguments are streamed in.
        stream: a stream of SSE frames, or a whole JSON body.
    """
    if api == "anthropic":
        if not stream:
            return ModelReply(
                api, body=orjson.dumps(anthropic_message(text, thinking=thinking, tool_calls=tool_calls))
            )
        frames = anthropic_stream(
            text, thinking=thinking, tool_calls=tool_calls, text_chunks=text_chunks, json_chunks=json_chunks
        )
    elif api == "openai_chat":
        if not stream:
            return ModelReply(
                api, body=orjson.dumps(chat_completion(text, reasoning=thinking, tool_calls=tool_calls))
            )
        frames = chat_stream(
            text, reasoning=thinking, tool_calls=tool_calls, text_chunks=text_chunks, json_chunks=json_chunks
        )
    else:
        if not stream:
            return ModelReply(
                api, body=orjson.dumps(response_object(text, reasoning=thinking, tool_calls=tool_calls))
            )
        frames = responses_stream(
            text, reasoning=thinking, tool_calls=tool_calls, text_chunks=text_chunks, json_chunks=json_chunks
        )
    return ModelReply(api, frames=tuple(frames))


def text_reply(api: ApiName, text: str, chunks: int = 3, *, stream: bool = True) -> ModelReply:
    """Text alone, streamed in `chunks` deltas."""
    return model_reply(api, text, text_chunks=chunks, stream=stream)


def tool_call_reply(api: ApiName, *calls: ToolCall, text: str = "", stream: bool = True) -> ModelReply:
    """One or more (parallel) tool calls, after an optional text."""
    return model_reply(api, text, tool_calls=calls, stream=stream)


def error_reply(api: ApiName, text: str = "", *, text_chunks: int = 3) -> ModelReply:
    """A stream that fails: the start of a text answer, then the API's in-stream error event.

    The frames after the text (its end, the message end) never come; the error event is the last.
    """
    frames = model_reply(api, text, text_chunks=text_chunks).frames
    if api == "anthropic":
        kept = _through_last(frames, b"content_block_delta")
        return ModelReply(api, frames=(*kept, anthropic_error_event(UPSTREAM_ERROR_TYPE, "Overloaded")))
    if api == "openai_chat":
        # The finish chunk, the usage chunk and `[DONE]` never come.
        error = sse_frame(None, openai_error_body("server_error", "The server had an error"))
        return ModelReply(api, frames=(*frames[:-3], error))
    kept = _through_last(frames, b"output_text.delta")
    error = responses_error_event("server_error", "The server had an error", sequence_number=len(kept))
    return ModelReply(api, frames=(*kept, error))


def _through_last(frames: Sequence[bytes], marker: bytes) -> tuple[bytes, ...]:
    """The frames up to and including the last one containing `marker` (the first two without one)."""
    last = max((index for index, frame in enumerate(frames) if marker in frame), default=1)
    return tuple(frames[: last + 1])
