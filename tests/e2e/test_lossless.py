"""Lossless forwarding: real client requests reach the upstream byte for byte, and answers come back so.

The requests are shaped like what Claude Code, Codex and the OpenAI SDK actually send (bodies in
`tests/e2e/data/`, headers below). Luthien must forward the exact body bytes, the query string and
every provider header, drop hop-by-hop headers, and return the upstream's SSE and JSON bytes as sent.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_provider import (
    FakeProvider,
    RawReply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    response_object,
    responses_stream,
    sse_frame,
)
from tests.support.servers import LuthienServer

DATA = Path(__file__).parent / "data"
TIMEOUT = httpx.Timeout(30.0)

# Headers a client sends that must not cross a proxy (RFC 9110 §7.6.1), including one that the
# client's own Connection header names.
HOP_BY_HOP_HEADERS = {
    "Connection": "keep-alive, x-drop-me",
    "x-drop-me": "1",
    "Keep-Alive": "timeout=5, max=1000",
    "TE": "trailers",
    "Proxy-Authorization": "Basic dXNlcjpwYXNzd29yZA==",
    "Proxy-Connection": "keep-alive",
}

CLAUDE_CODE_SESSION_ID = "5b0e3c52-8d6f-4f7e-9a1c-2d3e4f5a6b7c"

# What Claude Code 2.1.x sends with every /v1/messages call (API-key login).
CLAUDE_CODE_HEADERS = {
    "accept": "application/json",
    "anthropic-beta": (
        "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
        "prompt-caching-scope-2026-01-05,effort-2025-11-24,fine-grained-tool-streaming-2025-05-14,"
        "extended-cache-ttl-2025-04-11"
    ),
    "anthropic-dangerous-direct-browser-access": "true",
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
    "user-agent": "claude-cli/2.1.45 (external, cli)",
    "x-api-key": "sk-ant-api03-FAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake-AAAAAAAA",
    "x-app": "cli",
    "X-Claude-Code-Session-Id": CLAUDE_CODE_SESSION_ID,
    "x-client-request-id": "0f7c0b6e-7e1c-4d0a-b1f5-3c9e2d8a4b61",
    "x-stainless-arch": "arm64",
    "x-stainless-lang": "js",
    "x-stainless-os": "MacOS",
    "x-stainless-package-version": "0.74.0",
    "x-stainless-retry-count": "0",
    "x-stainless-runtime": "node",
    "x-stainless-runtime-version": "v24.3.0",
    "x-stainless-timeout": "600",
    "x-stainless-helper-method": "stream",
    "accept-language": "*",
    "sec-fetch-mode": "cors",
}

CODEX_HEADERS = {
    "authorization": "Bearer sk-proj-FAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake",
    "originator": "codex_cli_rs",
    "session-id": "019c6a41-5e2f-7a83-9b1d-4f0e6c2a8d37",
    "version": "0.98.0",
    "user-agent": "codex_cli_rs/0.98.0 (Mac OS 15.6.1; arm64) iTerm.app/3.6.5",
    "accept": "text/event-stream",
    "content-type": "application/json",
}

OPENAI_SDK_HEADERS = {
    "authorization": "Bearer sk-proj-FAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake",
    "accept": "application/json",
    "content-type": "application/json",
    "user-agent": "OpenAI/Python 2.8.1",
    "openai-organization": "org-FAKEfakeFAKEfake",
    "openai-project": "proj_FAKEfakeFAKEfake",
    "x-stainless-arch": "x64",
    "x-stainless-async": "false",
    "x-stainless-lang": "python",
    "x-stainless-os": "Linux",
    "x-stainless-package-version": "2.8.1",
    "x-stainless-read-timeout": "600",
    "x-stainless-retry-count": "0",
    "x-stainless-runtime": "CPython",
    "x-stainless-runtime-version": "3.12.8",
}


def _compact_json(name: str) -> bytes:
    """A data file as the client sends it: compact JSON, non-ASCII left as UTF-8."""
    data: Any = json.loads((DATA / name).read_text(encoding="utf-8"))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _claude_code_body() -> bytes:
    return _compact_json("claude_code_request.json")


def _post(
    url: str, headers: dict[str, str], body: bytes, *, stream: bool = True
) -> tuple[httpx.Response, bytes]:
    """POST raw bytes; return the response and its whole (decoded) body."""
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        client.stream("POST", url, headers=headers, content=body) as response,
    ):
        content = b"".join(response.iter_bytes()) if stream else response.read()
    return response, content


def _assert_forwarded(fake: FakeProvider, sent: dict[str, str]) -> None:
    """Every provider header arrived with the client's value; no hop-by-hop header did."""
    received = fake.requests[-1].headers
    for name, value in sent.items():
        assert received.get(name.lower()) == value, name
    for name in HOP_BY_HOP_HEADERS:
        assert name.lower() not in received
    assert received["host"] == fake.base_url.removeprefix("http://")


def _assert_transaction_id(response: httpx.Response) -> None:
    value = response.headers["x-luthien-transaction-id"]
    assert str(uuid.UUID(value)) == value.lower()


def _rechunk(frames: list[bytes], size: int) -> list[bytes]:
    """The same bytes cut into `size`-byte writes, splitting frames (and UTF-8 characters) anywhere."""
    raw = b"".join(frames)
    return [raw[start : start + size] for start in range(0, len(raw), size)]


# -- Claude Code -> /v1/messages ----------------------------------------------------------------------


def test_claude_code_request_is_forwarded_byte_for_byte(luthien: LuthienServer, fake: FakeProvider) -> None:
    body = _claude_code_body()
    assert 70_000 < len(body) < 90_000
    parsed: Any = json.loads(body)
    assert len(parsed["tools"]) == 25
    assert {tool["input_schema"]["$schema"] for tool in parsed["tools"]} == {
        "https://json-schema.org/draft/2020-12/schema"
    }
    assert isinstance(json.loads(parsed["metadata"]["user_id"]), dict)

    headers = {**CLAUDE_CODE_HEADERS, "Accept-Encoding": "gzip, br, zstd", **HOP_BY_HOP_HEADERS}
    response, _ = _post(f"{luthien.base_url}/v1/messages?beta=true", headers, body)

    assert response.status_code == 200
    received = fake.requests[-1]
    assert (received.method, received.path, received.query) == ("POST", "/v1/messages", "beta=true")
    assert received.body == body
    _assert_forwarded(fake, CLAUDE_CODE_HEADERS)


def test_claude_code_stream_comes_back_byte_identical(luthien: LuthienServer, fake: FakeProvider) -> None:
    edit = ToolCall(
        "toolu_01XyZ8wVb7Tc6Rd5Se4Qf3Pg",
        "Edit",
        {
            "file_path": "/Users/dev/src/tidewater/src/tidewater/parser.py",
            "old_string": "        while match := _FRAME_END.search(buffer, start):\n",
            "new_string": "        while (match := _FRAME_END.search(buffer, start)) and _whole(match):\n",
        },
    )
    frames = anthropic_stream(
        "The lone `\\r` at a chunk's end may be half of a CRLF — I'll hold it back. ✅",
        thinking="The test feeds b'data: a\\r\\n\\r' then b'\\n'; the parser cuts at the lone CR. 🤔",
        signature="EqQBCkYIBxgCKkB" + "Zm9vYmFy" * 40 + "==",
        tool_calls=[edit],
        model="claude-opus-4-6",
        text_chunks=7,
        json_chunks=9,
        usage={"cache_read_input_tokens": 15872, "cache_creation_input_tokens": 2048},
        extra_events=[
            sse_frame("content_block_future", {"type": "content_block_future", "index": 9, "x": [1, 2]}),
            b": upstream keep-alive comment\n\n",
            b"id: 7\nretry: 3000\n\n",
            b"event: future_text\ndata: not json at all\n\n",
        ],
    )
    upstream_headers = {
        "request-id": "req_011CYbB4Vq8n7mP2kR5tX9wZ",
        "anthropic-ratelimit-input-tokens-remaining": "1999000",
        "anthropic-ratelimit-output-tokens-reset": "2026-02-18T10:15:02Z",
        "anthropic-organization-id": "6a5f1a9e-0000-4000-8000-000000000000",
        "retry-after": "0",
    }
    fake.enqueue(StreamReply(frames, headers=upstream_headers))
    headers = {**CLAUDE_CODE_HEADERS, "Accept-Encoding": "gzip, br, zstd"}

    response, received = _post(f"{luthien.base_url}/v1/messages?beta=true", headers, _claude_code_body())

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert received == b"".join(frames)
    for name, value in upstream_headers.items():
        assert response.headers[name] == value
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "3999"
    _assert_transaction_id(response)


def test_claude_code_non_streaming_body_is_byte_identical(luthien: LuthienServer, fake: FakeProvider) -> None:
    message = anthropic_message(
        "Fixed — see `parser.py:33`.", thinking="Check the CR.", model="claude-opus-4-6"
    )
    # Pretty-printed with escaped non-ASCII: any re-serialization would change these bytes.
    reply = json.dumps(message, indent=2, ensure_ascii=True).encode() + b"\n"
    fake.enqueue(
        RawReply(reply, content_type="application/json", headers={"request-id": "req_011CNonStream"})
    )
    parsed: Any = json.loads(_claude_code_body())
    parsed["stream"] = False
    body = json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode()

    response, received = _post(
        f"{luthien.base_url}/v1/messages?beta=true", CLAUDE_CODE_HEADERS, body, stream=False
    )

    assert response.status_code == 200
    assert received == reply
    assert response.headers["content-type"] == "application/json"
    assert response.headers["request-id"] == "req_011CNonStream"
    assert fake.requests[-1].body == body
    _assert_transaction_id(response)


def test_count_tokens_is_forwarded_and_answered(luthien: LuthienServer, fake: FakeProvider) -> None:
    full: Any = json.loads(_claude_code_body())
    request = {key: full[key] for key in ("model", "messages", "system", "tools", "thinking")}
    body = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
    reply = b'{"input_tokens":18734}'
    fake.enqueue(RawReply(reply, content_type="application/json", headers={"request-id": "req_011CCount"}))
    provider_headers = {k: v for k, v in CLAUDE_CODE_HEADERS.items() if k != "x-stainless-helper-method"}
    headers = {**provider_headers, **HOP_BY_HOP_HEADERS}

    response, received = _post(
        f"{luthien.base_url}/v1/messages/count_tokens?beta=true", headers, body, stream=False
    )

    assert (response.status_code, received) == (200, reply)
    assert response.headers["request-id"] == "req_011CCount"
    upstream = fake.requests[-1]
    assert (upstream.path, upstream.query, upstream.body) == ("/v1/messages/count_tokens", "beta=true", body)
    _assert_forwarded(fake, provider_headers)
    _assert_transaction_id(response)


def test_query_string_is_kept_exactly(luthien: LuthienServer, fake: FakeProvider) -> None:
    # Repeated keys, empty values and a key without "=" must all survive. (The fake provider only sees
    # the query decoded, so percent-escapes are left out here.)
    query = "beta=true&tag=a-b.c_~d&empty=&flag&beta=again"
    body = b'{"model":"claude-sonnet-4-6","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'

    response, _ = _post(f"{luthien.base_url}/v1/messages?{query}", CLAUDE_CODE_HEADERS, body, stream=False)

    assert response.status_code == 200
    assert fake.requests[-1].query == query


# -- Codex -> /v1/responses ---------------------------------------------------------------------------


def test_codex_request_is_forwarded_byte_for_byte(luthien: LuthienServer, fake: FakeProvider) -> None:
    body = _compact_json("codex_request.json")
    parsed: Any = json.loads(body)
    assert {tool["type"] for tool in parsed["tools"]} >= {"function", "namespace", "web_search", "custom"}
    headers = {**CODEX_HEADERS, "Accept-Encoding": "gzip, br, zstd", **HOP_BY_HOP_HEADERS}

    response, _ = _post(f"{luthien.base_url}/v1/responses", headers, body)

    assert response.status_code == 200
    received = fake.requests[-1]
    assert (received.path, received.query) == ("/v1/responses", "")
    assert received.body == body
    _assert_forwarded(fake, CODEX_HEADERS)


def test_codex_stream_split_anywhere_comes_back_byte_identical(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    frames = responses_stream(
        "Le parser garde le `\\r` final — corrigé. ✅ 🦀",
        reasoning="**Holding back a trailing CR** until the next byte arrives…",
        tool_calls=[
            ToolCall(
                "call_Qy7nB2vX9kP4sR1tL6mW3hZd", "exec_command", {"cmd": "uv run pytest -q", "tty": False}
            )
        ],
        model="gpt-5.1-codex",
        text_chunks=11,
    )
    upstream_headers = {
        "x-request-id": "req_6f0f1e2d3c4b5a69788796a5b4c3d2e1",
        "openai-processing-ms": "412",
        "x-codex-primary-used-percent": "12",
        "x-codex-secondary-used-percent": "3",
        "x-ratelimit-remaining-tokens": "3998000",
    }
    fake.enqueue(StreamReply(_rechunk(frames, 13), headers=upstream_headers))
    headers = {**CODEX_HEADERS, "Accept-Encoding": "gzip, br, zstd"}

    response, received = _post(
        f"{luthien.base_url}/v1/responses", headers, _compact_json("codex_request.json")
    )

    assert response.status_code == 200
    assert received == b"".join(frames)
    for name, value in upstream_headers.items():
        assert response.headers[name] == value
    _assert_transaction_id(response)


# -- OpenAI SDK -> /v1/chat/completions ---------------------------------------------------------------

CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-5",
    "messages": [
        {"role": "developer", "content": "Réponds en français, brièvement."},
        {"role": "user", "content": "Quel temps fait-il à Zürich ? ☀️"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_8Hq2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Zürich"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_8Hq2", "content": '{"temp_c": 21.5, "sky": "clear"}'},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "strict": True,
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "additionalProperties": False,
                },
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": True,
    "stream": True,
    "stream_options": {"include_usage": True, "include_obfuscation": False},
    "reasoning_effort": "minimal",
    "verbosity": "low",
    "service_tier": "priority",
    "prompt_cache_retention": "24h",
    "temperature": 1.0,
    "future_sampling": {"mode": "speculative", "draft": 4},
}


def test_chat_request_and_crlf_stream_are_byte_identical(luthien: LuthienServer, fake: FakeProvider) -> None:
    # Indented, ASCII-escaped JSON: bytes that a re-serialization would not reproduce.
    body = json.dumps(CHAT_REQUEST, indent=2, ensure_ascii=True).encode()
    # Some OpenAI-compatible servers end SSE lines with CRLF.
    frames = [
        frame.replace(b"\n", b"\r\n")
        for frame in chat_stream("Il fait 21,5 °C et grand soleil à Zürich. ☀️", text_chunks=9)
    ]
    fake.enqueue(StreamReply(frames, headers={"x-request-id": "req_0123456789abcdef0123456789abcdef"}))
    headers = {**OPENAI_SDK_HEADERS, **HOP_BY_HOP_HEADERS}

    response, received = _post(f"{luthien.base_url}/v1/chat/completions", headers, body)

    assert response.status_code == 200
    assert fake.requests[-1].body == body
    _assert_forwarded(fake, OPENAI_SDK_HEADERS)
    assert received == b"".join(frames)
    assert response.headers["x-request-id"] == "req_0123456789abcdef0123456789abcdef"
    assert response.headers["x-ratelimit-remaining-requests"] == "9999"
    _assert_transaction_id(response)


# -- non-streaming bodies -----------------------------------------------------------------------------

_CHAT_BODY = b'{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}'
_RESPONSES_BODY = b'{"model":"gpt-5","input":"hi","store":false}'
_MESSAGES_BODY = b'{"model":"claude-sonnet-4-6","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'


@pytest.mark.parametrize(
    ("path", "body", "reply"),
    [
        (
            "/v1/messages",
            _MESSAGES_BODY,
            anthropic_message("Grüße — ✅", tool_calls=[ToolCall("toolu_01", "Read", {"file_path": "/é"})]),
        ),
        (
            "/v1/chat/completions",
            _CHAT_BODY,
            chat_completion("Grüße — ✅", tool_calls=[ToolCall("call_1", "f", {"a": "ü"})]),
        ),
        (
            "/v1/responses",
            _RESPONSES_BODY,
            response_object("Grüße — ✅", reasoning="…", tool_calls=[ToolCall("call_1", "f", {"a": "ü"})]),
        ),
    ],
    ids=["messages", "chat", "responses"],
)
def test_non_streaming_body_is_byte_identical(
    luthien: LuthienServer, fake: FakeProvider, path: str, body: bytes, reply: dict[str, Any]
) -> None:
    raw = json.dumps(reply, indent=3, ensure_ascii=True).encode() + b"\n"
    fake.enqueue(RawReply(raw, content_type="application/json"))
    headers = {"content-type": "application/json", "x-api-key": "k", "authorization": "Bearer k"}

    response, received = _post(f"{luthien.base_url}{path}", headers, body, stream=False)

    assert response.status_code == 200
    assert received == raw
    assert fake.requests[-1].body == body
    _assert_transaction_id(response)


def test_gzip_encoded_upstream_bodies_reach_the_client_decoded(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    reply = json.dumps(anthropic_message("Compressed — ✅"), indent=2).encode()
    frames = anthropic_stream("Compressed stream — ✅", text_chunks=5)
    compressed_stream = gzip.compress(b"".join(frames))
    fake.enqueue(
        RawReply(gzip.compress(reply), content_type="application/json", headers={"Content-Encoding": "gzip"}),
        StreamReply(_rechunk([compressed_stream], 40), headers={"Content-Encoding": "gzip"}),
    )
    body = b'{"model":"claude-sonnet-4-6","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'
    stream_body = body[:-1] + b',"stream":true}'

    whole, whole_received = _post(f"{luthien.base_url}/v1/messages", CLAUDE_CODE_HEADERS, body, stream=False)
    streamed, stream_received = _post(f"{luthien.base_url}/v1/messages", CLAUDE_CODE_HEADERS, stream_body)

    assert (whole.status_code, whole_received) == (200, reply)
    assert (streamed.status_code, stream_received) == (200, b"".join(frames))


def test_chunked_client_body_is_forwarded_byte_for_byte(luthien: LuthienServer, fake: FakeProvider) -> None:
    body = _compact_json("codex_request.json")

    def pieces() -> Iterator[bytes]:
        # No Content-Length: the body arrives in Transfer-Encoding: chunked pieces.
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    with (
        httpx.Client(timeout=TIMEOUT) as client,
        client.stream(
            "POST", f"{luthien.base_url}/v1/responses", headers=CODEX_HEADERS, content=pieces()
        ) as response,
    ):
        response.read()

    assert response.status_code == 200
    assert fake.requests[-1].body == body
