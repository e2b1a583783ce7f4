"""Records of calls that went wrong: upstream errors, cut streams, clients that left, bad requests.

Driven with plain HTTP (httpx) to control exactly when the client leaves and what it sends. Calls
that are not recorded (token counting, failed authentication) are checked after the server stopped,
when every call has finished recording.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    StreamReply,
    anthropic_error_body,
    anthropic_stream,
    openai_error_body,
    split_text,
)
from tests.support.records import GUARD_S, TRANSACTION_HEADER, record_of, records_after_stop
from tests.support.servers import LuthienServer
from tests.support.streamed_calls import CLIENT_TIMEOUT_S, LONG_PAUSE, STREAMS, read_until_frames

MESSAGES_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}
CHAT_BODY: dict[str, Any] = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}


def post(server: LuthienServer, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(server.base_url + path, content=content, headers=headers, timeout=GUARD_S)


@pytest.mark.parametrize(
    ("path", "body", "error_body"),
    [
        ("/v1/messages", MESSAGES_BODY, anthropic_error_body("rate_limit_error", "Slow down.")),
        (
            "/v1/chat/completions",
            CHAT_BODY,
            openai_error_body("requests", "Slow down.", code="rate_limit_exceeded"),
        ),
    ],
    ids=["anthropic", "chat"],
)
def test_an_upstream_error_is_recorded_with_its_status(
    luthien: LuthienServer, fake: FakeProvider, path: str, body: dict[str, Any], error_body: dict[str, Any]
) -> None:
    fake.enqueue(JSONReply(error_body, status=429))

    response = post(luthien, path, body)

    assert response.status_code == 429
    record = record_of(luthien, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.ERROR
    assert record.http_status == 429
    assert record.error is not None
    assert record.original_response == orjson.dumps(error_body)
    assert record.final_response is None  # forwarded as it came
    assert record.timing.upstream_first_byte_at is not None
    assert record.timing.first_token_at is None


def test_an_unreachable_upstream_is_recorded(make_luthien: LuthienFactory) -> None:
    server = make_luthien(anthropic_base_url="http://127.0.0.1:9")

    response = post(server, "/v1/messages", MESSAGES_BODY)

    assert response.status_code == 502
    record = record_of(server, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.ERROR
    assert record.http_status == 502
    assert record.upstream == "anthropic"
    assert record.original_response is None
    assert record.final_response == response.content
    assert record.timing.upstream_first_byte_at is None


def test_a_stream_cut_by_the_upstream_is_an_error(luthien: LuthienServer, fake: FakeProvider) -> None:
    text = "one two three four"
    frames = anthropic_stream(text, text_chunks=4)
    # message_start, ping, content_block_start, then two of the four text deltas.
    fake.enqueue(StreamReply(frames[:5], cut=True))

    response = post(luthien, "/v1/messages", {**MESSAGES_BODY, "stream": True})

    assert response.status_code == 200
    record = record_of(luthien, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.ERROR
    assert record.http_status == 200
    assert record.error is not None
    assert record.original_response is not None
    assert orjson.loads(record.original_response)["content"] == [
        {"type": "text", "text": "".join(split_text(text, 4)[:2])}
    ]
    # The client got the same message, then the error event the record's `error` describes.
    assert record.final_response is None


@pytest.mark.parametrize("name", list(STREAMS))
def test_a_client_that_leaves_mid_stream_is_recorded(
    luthien: LuthienServer, fake: FakeProvider, name: str
) -> None:
    path, body, frames = STREAMS[name]
    fake.enqueue(StreamReply([*frames[:2], LONG_PAUSE, *frames[2:]]))

    with httpx.stream("POST", luthien.base_url + path, json=body, timeout=GUARD_S) as response:
        transaction_id = response.headers[TRANSACTION_HEADER]
        chunks = response.iter_raw()
        read_until_frames(chunks, 2)

    record = record_of(luthien, transaction_id)
    assert record.status is TransactionStatus.CLIENT_DISCONNECTED
    assert record.http_status == 200
    assert record.streaming is True
    assert record.error is None
    assert record.timing.first_token_at is None or record.timing.first_token_at >= record.timing.received_at


@pytest.mark.parametrize("name", list(STREAMS))
def test_a_client_that_hangs_up_after_the_whole_answer_is_not_a_disconnect(
    make_luthien: LuthienFactory, fake: FakeProvider, name: str
) -> None:
    """Codex closes as soon as `response.completed` arrives, before the stream's own end."""
    server = make_luthien()
    path, body, frames = STREAMS[name]
    fake.enqueue(StreamReply([*frames, LONG_PAUSE]))  # the upstream keeps the stream open

    with httpx.stream("POST", server.base_url + path, json=body, timeout=GUARD_S) as response:
        received = read_until_frames(response.iter_raw(), len(frames))
        assert received == b"".join(frames)

    (record,) = records_after_stop(server)
    assert record.status is TransactionStatus.OK
    assert record.error is None


def test_a_client_that_leaves_before_the_upstream_answers_is_recorded(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien()
    fake.enqueue(HangReply())

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.base_url + "/v1/messages", json=MESSAGES_BODY, timeout=CLIENT_TIMEOUT_S)

    (record,) = records_after_stop(server)
    assert record.status is TransactionStatus.CLIENT_DISCONNECTED
    assert record.http_status is None
    assert record.original_response is None
    assert record.final_response is None
    assert orjson.loads(record.original_request) == MESSAGES_BODY


def test_a_bad_request_after_authentication_is_recorded(luthien: LuthienServer) -> None:
    response = post(luthien, "/v1/messages", b'{"model": "claude-sonnet-4-6", "messages": [')

    assert response.status_code == 400
    record = record_of(luthien, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.ERROR
    assert record.http_status == 400
    assert record.model is None
    assert record.original_request == b'{"model": "claude-sonnet-4-6", "messages": ['
    assert record.upstream is None
    assert record.error is not None


def test_token_counts_and_unauthenticated_calls_are_not_recorded(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(api_key="proxy-key-for-records")
    counted = post(
        server, "/v1/messages/count_tokens", MESSAGES_BODY, authorization="Bearer proxy-key-for-records"
    )
    refused = post(server, "/v1/messages", MESSAGES_BODY, authorization="Bearer wrong-key")
    fake.enqueue(JSONReply({"id": "msg_1", "type": "message", "role": "assistant", "content": []}))
    answered = post(server, "/v1/messages", MESSAGES_BODY, authorization="Bearer proxy-key-for-records")

    assert (counted.status_code, refused.status_code, answered.status_code) == (200, 401, 200)
    records = records_after_stop(server)
    assert [record.transaction_id for record in records] == [answered.headers[TRANSACTION_HEADER]]
