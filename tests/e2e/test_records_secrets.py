"""Credentials never reach a record: a canary key in proxy and passthrough mode, every API.

Each call carries a distinctive key (the client's in passthrough mode; the proxy key and the
server's provider keys in proxy mode); the whole record, serialized, must not contain its bytes,
even when the upstream echoes the key back in an error message.

Records are read back from the server's real store (bodies reassembled from their compressed chunks),
and the SQLite file itself is searched too, for the columns stored uncompressed (headers, events,
search text, errors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from luthien.records.model import TransactionRecord, TransactionStatus
from luthien.records.secrets import is_credential_header
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    anthropic_error_body,
    anthropic_stream,
    chat_stream,
    openai_error_body,
    responses_stream,
)
from tests.support.records import GUARD_S, TRANSACTION_HEADER, open_sdks, record_of, stored_bytes
from tests.support.servers import LuthienServer

CLIENT_CANARY = "sk-ant-api03-CANARYclientKEY-7f3a9c2e1b8d4f6a0e5c"
PROXY_CANARY = "luthien-proxy-CANARY-3b9e7d1c5a2f8e4b"
ANTHROPIC_CANARY = "sk-ant-api03-CANARYserverKEY-9d2c4e6f8a1b3c5d"
OPENAI_CANARY = "sk-proj-CANARYserverKEY-1a3c5e7f9b2d4f6a"
CANARIES = (CLIENT_CANARY, PROXY_CANARY, ANTHROPIC_CANARY, OPENAI_CANARY)
USER: Any = [{"role": "user", "content": "hi"}]


def assert_no_canary(record: TransactionRecord) -> None:
    stored = stored_bytes(record)
    for canary in CANARIES:
        assert canary.encode() not in stored
        # Neither in part: the distinctive middle of the key is gone too.
        assert b"CANARY" not in stored
    assert not [name for name in record.request_headers if is_credential_header(name)]
    assert "authorization" not in record.request_headers
    assert "x-api-key" not in record.request_headers


def call_every_api(server: LuthienServer, fake: FakeProvider, key: str) -> list[str]:
    """A streaming call in each API with the official SDKs, `key` as the client's credential."""
    with open_sdks(server.base_url, anthropic_key=key, openai_key=key) as sdks:
        fake.enqueue(StreamReply(anthropic_stream("Hello.")))
        with sdks.anthropic.messages.stream(
            model="claude-sonnet-4-6", max_tokens=64, messages=USER
        ) as stream:
            stream.get_final_message()
        fake.enqueue(StreamReply(chat_stream("Hello.")))
        with sdks.openai.chat.completions.stream(model="gpt-5", messages=USER) as chat:
            chat.get_final_completion()
        fake.enqueue(StreamReply(responses_stream("Hello.")))
        with sdks.openai.responses.stream(model="gpt-5", input="hi") as responses:
            responses.get_final_response()
        return sdks.transaction_ids


def test_passthrough_keys_are_never_recorded(luthien: LuthienServer, fake: FakeProvider) -> None:
    transaction_ids = call_every_api(luthien, fake, CLIENT_CANARY)

    assert len(transaction_ids) == 3
    # The key did reach the upstream (passthrough), so its absence from records is not by accident.
    assert all(CLIENT_CANARY in " ".join(request.headers.values()) for request in fake.requests)
    for transaction_id in transaction_ids:
        record = record_of(luthien, transaction_id)
        assert record.status is TransactionStatus.OK
        assert_no_canary(record)


def test_proxy_and_provider_keys_are_never_recorded(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(
        api_key=PROXY_CANARY, anthropic_api_key=ANTHROPIC_CANARY, openai_api_key=OPENAI_CANARY
    )

    transaction_ids = call_every_api(server, fake, PROXY_CANARY)

    assert fake.requests[0].headers["x-api-key"] == ANTHROPIC_CANARY
    assert fake.requests[1].headers["authorization"] == f"Bearer {OPENAI_CANARY}"
    for transaction_id in transaction_ids:
        record = record_of(server, transaction_id)
        assert record.status is TransactionStatus.OK
        assert_no_canary(record)
    server.stop()
    stored = database_bytes(server.settings.database_url)
    assert b"claude-sonnet-4-6" in stored  # what is not a secret is there, uncompressed
    assert b"CANARY" not in stored


def database_bytes(url: str) -> bytes:
    """Every byte of a SQLite database: the file and what is still in its write-ahead log."""
    path = Path(url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(file.read_bytes() for file in files if file.exists())


@pytest.mark.parametrize(
    ("path", "body", "headers", "error"),
    [
        (
            "/v1/messages",
            {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": USER},
            {"x-api-key": CLIENT_CANARY, "anthropic-version": "2023-06-01"},
            anthropic_error_body("authentication_error", f"invalid x-api-key: {CLIENT_CANARY}"),
        ),
        (
            "/v1/chat/completions",
            {"model": "gpt-5", "messages": USER},
            {"authorization": f"Bearer {CLIENT_CANARY}"},
            openai_error_body("invalid_request_error", f"Incorrect API key provided: {CLIENT_CANARY}"),
        ),
    ],
    ids=["anthropic", "chat"],
)
def test_a_key_echoed_by_the_upstream_is_scrubbed(
    luthien: LuthienServer,
    fake: FakeProvider,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    error: dict[str, Any],
) -> None:
    fake.enqueue(JSONReply(error, status=401))

    response = httpx.post(luthien.base_url + path, json=body, headers=headers, timeout=GUARD_S)

    assert response.status_code == 401
    assert CLIENT_CANARY in response.text  # the client itself still gets the upstream's answer
    record = record_of(luthien, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.ERROR
    assert_no_canary(record)
    assert record.original_response is not None
    assert b"[redacted]" in record.original_response
    assert orjson.loads(record.original_response)["error"]["type"] == error["error"]["type"]
