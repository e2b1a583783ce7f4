"""An upstream's `max_output_tokens` through a real server: what the upstream receives, and the record.

Claude Code's own request (`max_tokens: 64000`, tests/e2e/data) to a capped upstream of its API
arrives with the cap and otherwise unchanged, and its record says `ok` (the cap is no policy's
change); a request within the cap arrives as the client's exact bytes. Translated calls arrive capped
too: Claude Code's request on a Chat-only upstream (vLLM-like), and a Responses call with no limit on
an Anthropic upstream (whose default limit is above the cap).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from luthien.config import LuthienConfig
from luthien.records.model import TransactionStatus
from luthien.upstream.output_cap import OUTPUT_LIMIT_FIELDS
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, StreamReply, anthropic_stream, chat_stream
from tests.support.records import TRANSACTION_HEADER, record_of
from tests.support.servers import LuthienServer

PROXY_KEY = "luthien-proxy-key"
CAP = 4096
HTTP_TIMEOUT_S = 30.0
CLAUDE_CODE_REQUEST = Path(__file__).parent / "data" / "claude_code_request.json"
ANSWER = "Capped, and answered."


@pytest.fixture
def local() -> Iterator[FakeProvider]:
    """A Chat-only server (vLLM-like)."""
    provider = FakeProvider(chat_only=True)
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def server(make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider) -> LuthienServer:
    """Claude models on a capped Anthropic upstream, Llama on a capped Chat-only one."""
    config = LuthienConfig.model_validate(
        {
            "upstreams": {
                "claude-up": {"format": "anthropic", "base_url": fake.base_url, "max_output_tokens": CAP},
                "local": {
                    "format": "openai-chat",
                    "base_url": f"{local.base_url}/v1",
                    "max_output_tokens": CAP,
                },
            },
            "routes": [
                {"model": "claude-*", "upstream": "claude-up"},
                {"model": "llama*", "upstream": "local"},
            ],
        }
    )
    return make_luthien(config, api_key=PROXY_KEY)


def claude_code_body(**changes: Any) -> bytes:
    """Claude Code's recorded request, as it sends it (compact JSON), with `changes`."""
    body: dict[str, Any] = {**json.loads(CLAUDE_CODE_REQUEST.read_text(encoding="utf-8")), **changes}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def post(server: LuthienServer, path: str, body: bytes) -> httpx.Response:
    headers = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    return httpx.post(f"{server.base_url}{path}", content=body, headers=headers, timeout=HTTP_TIMEOUT_S)


def limits(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body[name] for name in OUTPUT_LIMIT_FIELDS if name in body}


def test_claude_codes_request_reaches_a_capped_upstream_of_its_api_capped(
    server: LuthienServer, fake: FakeProvider
) -> None:
    body = claude_code_body()
    client: dict[str, Any] = orjson.loads(body)
    assert client["max_tokens"] > CAP
    fake.enqueue(StreamReply(anthropic_stream(ANSWER, text_chunks=1)))

    response = post(server, "/v1/messages?beta=true", body)

    assert response.status_code == 200
    assert ANSWER in response.text
    (received,) = fake.requests
    assert received.json() == {**client, "max_tokens": CAP}
    record = record_of(server, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.OK  # the cap is not a policy's change
    assert record.final_request is not None
    assert orjson.loads(record.final_request)["max_tokens"] == CAP


def test_a_request_within_the_cap_keeps_its_exact_bytes(server: LuthienServer, fake: FakeProvider) -> None:
    body = claude_code_body(max_tokens=CAP)
    fake.enqueue(StreamReply(anthropic_stream(ANSWER, text_chunks=1)))

    response = post(server, "/v1/messages?beta=true", body)

    assert response.status_code == 200
    (received,) = fake.requests
    assert received.body == body


def test_claude_codes_request_translated_for_a_chat_only_upstream_is_capped(
    server: LuthienServer, local: FakeProvider
) -> None:
    local.enqueue(StreamReply(chat_stream(ANSWER, text_chunks=1)))

    response = post(server, "/v1/messages?beta=true", claude_code_body(model="llama-3.3-70b"))

    assert response.status_code == 200
    assert ANSWER in response.text
    (received,) = local.requests
    assert received.path == "/v1/chat/completions"
    assert set(limits(received.json()).values()) == {CAP}


def test_a_responses_call_without_a_limit_gets_the_cap_on_an_anthropic_upstream(
    server: LuthienServer, fake: FakeProvider
) -> None:
    fake.enqueue(StreamReply(anthropic_stream(ANSWER, text_chunks=1)))
    body = orjson.dumps({"model": "claude-sonnet-4-6", "input": "Hello?", "stream": True})

    response = httpx.post(
        f"{server.base_url}/v1/responses",
        content=body,
        headers={"authorization": f"Bearer {PROXY_KEY}", "content-type": "application/json"},
        timeout=HTTP_TIMEOUT_S,
    )

    assert response.status_code == 200
    assert ANSWER in response.text
    (received,) = fake.requests
    assert received.path == "/v1/messages"
    assert limits(received.json()) == {"max_tokens": CAP}
