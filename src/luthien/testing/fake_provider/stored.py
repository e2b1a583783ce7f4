"""What the fake provider remembers: stored responses, stored chat completions and message batches.

- Responses (`POST /v1/responses`, unless `"store": false`) are kept with their input items and, when
  they streamed, their frames; `GET /v1/responses/{id}` answers them as a body or, with
  `stream=true`, as a stream (the frames replayed, or built from the body; `starting_after` skips
  what a client has). `"background": true` answers `queued` without output; the finished response is
  what retrieval returns. Also `DELETE`, `cancel` (background responses only), `input_items`,
  `input_tokens` and `compact`.
- Chat completions created with `"store": true` (non-streaming): list, retrieve, update metadata,
  delete, and their request's messages.
- Message batches: each request's reply comes from the fake's script (responder, queue, default) as a
  `/v1/messages` call would; the batch has ended by the first retrieval, and its results are JSONL.
"""

from __future__ import annotations

import datetime
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs

import orjson

from luthien.testing.fake_provider.anthropic_wire import anthropic_error_body
from luthien.testing.fake_provider.openai_chat_wire import openai_error_body
from luthien.testing.fake_provider.openai_responses_wire import responses_stream
from luthien.testing.fake_provider.script import HangReply, JSONReply, RawReply, Reply, StreamReply, ToolCall

JSONL_CONTENT_TYPE = "application/binary"
"""The content type Anthropic serves batch results with."""
_BATCH_LIFETIME = datetime.timedelta(hours=24)
_RESPONSE = re.compile(r"^/v1/responses/(?P<id>[^/]+)(?P<tail>/cancel|/input_items)?$")
_COMPLETION = re.compile(r"^/v1/chat/completions/(?P<id>[^/]+)(?P<tail>/messages)?$")
_BATCH = re.compile(r"^/v1/messages/batches/(?P<id>[^/]+)(?P<tail>/cancel|/results)?$")
_CHARS_PER_TOKEN = 4

MessageReply = Callable[[dict[str, Any]], Reply]
"""The reply the fake's script gives a `/v1/messages` call with these params."""


@dataclass
class StoredResponse:
    """A response the fake keeps: the finished body, its frames if it streamed, its input items."""

    body: dict[str, Any]
    frames: list[bytes] | None
    input_items: list[dict[str, Any]]
    background: bool


@dataclass
class StoredCompletion:
    """A stored chat completion and its request's messages."""

    body: dict[str, Any]
    messages: list[dict[str, Any]]


@dataclass
class Batch:
    """A message batch and its results (one per request, in order)."""

    body: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])


def _id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _page(data: list[dict[str, Any]], *, openai: bool) -> dict[str, Any]:
    first = data[0]["id"] if data else None
    last = data[-1]["id"] if data else None
    page: dict[str, Any] = {"data": data, "has_more": False, "first_id": first, "last_id": last}
    return {"object": "list", **page} if openai else page


def _not_found(openai: bool, what: str) -> JSONReply:
    if openai:
        return JSONReply(openai_error_body("invalid_request_error", f"{what} not found"), status=404)
    return JSONReply(anthropic_error_body("not_found_error", f"{what} not found"), status=404)


def _input_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    items: list[dict[str, Any]] = []
    for item in cast(list[Any], value) if isinstance(value, list) else []:
        entry = _dict(item)
        if isinstance(entry.get("content"), str):
            entry = {**entry, "content": [{"type": "input_text", "text": entry["content"]}]}
        items.append({"id": _id("msg_"), "type": "message", **entry})
    return items


def _data(frame: bytes) -> dict[str, Any]:
    """A frame's JSON object payload; empty for anything else (scripts may send malformed frames)."""
    for line in frame.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                return _dict(orjson.loads(line[5:]))
            except orjson.JSONDecodeError:
                return {}
    return {}


def _final_response(frames: list[bytes]) -> dict[str, Any] | None:
    for frame in reversed(frames):
        data = _data(frame)
        if data.get("type") in ("response.completed", "response.incomplete") and "id" in _dict(
            data.get("response")
        ):
            return _dict(data.get("response"))
    return None


def _replay(stored: StoredResponse) -> list[bytes]:
    if stored.frames is not None:
        return stored.frames
    body = stored.body
    text = "".join(
        str(_dict(part).get("text", ""))
        for item in body["output"]
        if _dict(item).get("type") == "message"
        for part in _dict(item).get("content", [])
    )
    calls = [
        ToolCall(str(item["call_id"]), str(item["name"]), str(item["arguments"]))
        for item in map(_dict, body["output"])
        if item.get("type") == "function_call"
    ]
    return responses_stream(text, tool_calls=calls, model=str(body["model"]), response_id=str(body["id"]))


def _sequence(frame: bytes) -> int:
    number = _data(frame).get("sequence_number")
    return number if isinstance(number, int) else -1


class StoredObjects:
    """The fake's memory of stored objects; `answer` serves the endpoints that read it."""

    def __init__(self) -> None:
        self.responses: dict[str, StoredResponse] = {}
        self.completions: dict[str, StoredCompletion] = {}
        self.batches: dict[str, Batch] = {}

    def clear(self) -> None:
        """Forget everything."""
        self.responses.clear()
        self.completions.clear()
        self.batches.clear()

    def created(self, path: str, request: dict[str, Any], reply: Reply) -> Reply:
        """Remember what a `/v1/responses` or `/v1/chat/completions` call created; the reply to send."""
        if path == "/v1/chat/completions":
            body = _dict(reply.body) if isinstance(reply, JSONReply) and reply.status == 200 else {}
            if request.get("store") is True and "id" in body:
                messages = [
                    {"id": f"{body['id']}-{index}", **_dict(message)}
                    for index, message in enumerate(cast(list[Any], request.get("messages") or []))
                ]
                self.completions[str(body["id"])] = StoredCompletion(
                    {**body, "metadata": _dict(request.get("metadata"))}, messages
                )
            return reply
        if request.get("store") is False or isinstance(reply, HangReply) or reply.status != 200:
            return reply
        background = request.get("background") is True
        if isinstance(reply, StreamReply):
            frames = [frame for frame in reply.frames if isinstance(frame, bytes)]
            final = _final_response(frames)
            if final is not None:
                self.responses[str(final["id"])] = StoredResponse(
                    final, frames, _input_items(request.get("input")), background
                )
            return reply
        body = _dict(reply.body) if isinstance(reply, JSONReply) else {}
        if "id" not in body:
            return reply
        body = {**body, "background": background}
        self.responses[str(body["id"])] = StoredResponse(
            body, None, _input_items(request.get("input")), background
        )
        if not background:
            return reply
        return JSONReply({**body, "status": "queued", "output": [], "usage": None, "completed_at": None})

    def answer(self, method: str, path: str, query: str, body: dict[str, Any], base_url: str,
               message_reply: MessageReply) -> Reply | None:  # fmt: skip
        """The reply of a stored-object endpoint; None when `path` is not one."""
        params = {name: values[-1] for name, values in parse_qs(query).items()}
        if path == "/v1/responses/input_tokens" and method == "POST":
            text = orjson.dumps(body.get("input")).decode()
            return JSONReply(
                {"object": "response.input_tokens", "input_tokens": len(text) // _CHARS_PER_TOKEN + 1}
            )
        if path == "/v1/responses/compact" and method == "POST":
            return JSONReply(self._compact(body))
        if path == "/v1/chat/completions" and method == "GET":
            data = [stored.body for stored in self.completions.values()]
            if "model" in params:
                data = [completion for completion in data if completion.get("model") == params["model"]]
            return JSONReply(_page(data, openai=True))
        if path.startswith("/v1/messages/batches"):
            return self._batches(method, path, body, base_url, message_reply)
        if (match := _RESPONSE.match(path)) is not None:
            return self._response(method, match["id"], match["tail"], params)
        if (match := _COMPLETION.match(path)) is not None:
            return self._completion(method, match["id"], match["tail"], body)
        return None

    def _compact(self, body: dict[str, Any]) -> dict[str, Any]:
        kept = [item for item in _input_items(body.get("input")) if item.get("role") == "user"]
        compaction = {"id": _id("cmp_"), "type": "compaction", "encrypted_content": secrets.token_urlsafe(48)}
        return {
            "id": _id("resp_"),
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [*kept, compaction],
            "usage": {
                "input_tokens": 120,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 30,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 150,
            },
        }

    def _response(self, method: str, response_id: str, tail: str | None, params: dict[str, str]) -> Reply:
        stored = self.responses.get(response_id)
        if stored is None:
            return _not_found(True, f"Response with id '{response_id}'")
        if tail == "/input_items":
            items = stored.input_items if params.get("order") == "asc" else stored.input_items[::-1]
            return JSONReply(_page(items, openai=True))
        if tail == "/cancel":
            if not stored.background:
                message = "Only responses created with background=true can be cancelled."
                return JSONReply(openai_error_body("invalid_request_error", message), status=400)
            return JSONReply(stored.body)
        if method == "DELETE":
            del self.responses[response_id]
            return JSONReply({"id": response_id, "object": "response", "deleted": True})
        if params.get("stream") != "true":
            return JSONReply(stored.body)
        after = int(params.get("starting_after", "-1"))
        return StreamReply([frame for frame in _replay(stored) if _sequence(frame) > after])

    def _completion(self, method: str, completion_id: str, tail: str | None, body: dict[str, Any]) -> Reply:
        stored = self.completions.get(completion_id)
        if stored is None:
            return _not_found(True, f"Chat completion with id '{completion_id}'")
        if tail == "/messages":
            return JSONReply(_page(stored.messages, openai=True))
        if method == "DELETE":
            del self.completions[completion_id]
            return JSONReply({"object": "chat.completion.deleted", "id": completion_id, "deleted": True})
        if method == "POST":
            stored.body = {**stored.body, "metadata": _dict(body.get("metadata"))}
        return JSONReply(stored.body)

    def _batches(self, method: str, path: str, body: dict[str, Any], base_url: str,
                 message_reply: MessageReply) -> Reply:  # fmt: skip
        if path == "/v1/messages/batches":
            if method == "POST":
                return JSONReply(self._create_batch(body, message_reply))
            return JSONReply(
                _page([self._ended(batch, base_url) for batch in self.batches.values()], openai=False)
            )
        match = _BATCH.match(path)
        batch = self.batches.get(match["id"]) if match is not None else None
        if match is None or batch is None:
            return _not_found(False, "Message batch")
        if match["tail"] == "/results":
            lines = b"".join(orjson.dumps(result) + b"\n" for result in batch.results)
            return RawReply(lines, content_type=JSONL_CONTENT_TYPE)
        if method == "DELETE":
            del self.batches[match["id"]]
            return JSONReply({"id": match["id"], "type": "message_batch_deleted"})
        ended = self._ended(batch, base_url)
        if match["tail"] == "/cancel":
            return JSONReply({**ended, "cancel_initiated_at": _iso(datetime.datetime.now(datetime.UTC))})
        return JSONReply(ended)

    def _create_batch(self, body: dict[str, Any], message_reply: MessageReply) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.UTC)
        requests = [_dict(item) for item in cast(list[Any], body.get("requests") or [])]
        batch = Batch(
            {
                "id": _id("msgbatch_"),
                "type": "message_batch",
                "processing_status": "in_progress",
                "request_counts": {
                    "processing": len(requests),
                    "succeeded": 0,
                    "errored": 0,
                    "canceled": 0,
                    "expired": 0,
                },
                "ended_at": None,
                "created_at": _iso(now),
                "expires_at": _iso(now + _BATCH_LIFETIME),
                "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": None,
            }
        )
        for request in requests:
            reply = message_reply(_dict(request.get("params")))
            body_of = _dict(reply.body) if isinstance(reply, JSONReply) else {}
            if isinstance(reply, JSONReply) and reply.status == 200:
                result: dict[str, Any] = {"type": "succeeded", "message": body_of}
            else:
                result = {"type": "errored", "error": body_of or anthropic_error_body("api_error", "failed")}
            batch.results.append({"custom_id": request.get("custom_id"), "result": result})
        self.batches[batch.body["id"]] = batch
        return batch.body

    def _ended(self, batch: Batch, base_url: str) -> dict[str, Any]:
        succeeded = sum(1 for result in batch.results if result["result"]["type"] == "succeeded")
        counts = {
            "processing": 0,
            "succeeded": succeeded,
            "errored": len(batch.results) - succeeded,
            "canceled": 0,
            "expired": 0,
        }
        return {
            **batch.body,
            "processing_status": "ended",
            "request_counts": counts,
            "ended_at": _iso(datetime.datetime.now(datetime.UTC)),
            "results_url": f"{base_url}/v1/messages/batches/{batch.body['id']}/results",
        }
