"""A client that goes away cancels the upstream call at once, streaming or not."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    StreamReply,
)
from tests.support.servers import LuthienServer
from tests.support.streamed_calls import CLIENT_TIMEOUT_S, LONG_PAUSE, STREAMS, USER, read_until_frames

# The requirement: the upstream connection is closed within one second of the client leaving.
CLOSE_WITHIN_S = 1.0
# Bounds a test's own socket reads so a broken proxy fails the test instead of hanging it.
SOCKET_TIMEOUT_S = 10.0


@pytest.mark.parametrize("name", list(STREAMS))
@pytest.mark.parametrize("first", [1, 3])
def test_closing_a_stream_closes_the_upstream(
    luthien: LuthienServer, fake: FakeProvider, name: str, first: int
) -> None:
    path, body, frames = STREAMS[name]
    fake.enqueue(StreamReply([*frames[:first], LONG_PAUSE, *frames[first:]]))

    with httpx.stream("POST", f"{luthien.base_url}{path}", json=body) as response:
        chunks = response.iter_raw()
        received = read_until_frames(chunks, first)
        assert received == b"".join(frames[:first])
        assert not fake.wait_stream_closed(0)

    assert fake.wait_stream_closed(CLOSE_WITHIN_S)


def http_request(path: str, body: dict[str, Any]) -> bytes:
    payload = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode("ascii") + payload


def read_until(sock: socket.socket, expected: bytes) -> bytes:
    """Read from `sock` until `expected` has arrived."""
    buffer = b""
    while expected not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {buffer!r}")
        buffer += chunk
    return buffer


@pytest.mark.parametrize("name", ["messages", "chat"])
def test_closing_the_socket_closes_the_upstream(
    luthien: LuthienServer, fake: FakeProvider, name: str
) -> None:
    path, body, frames = STREAMS[name]
    fake.enqueue(StreamReply([frames[0], LONG_PAUSE, *frames[1:]]))

    with socket.create_connection(("127.0.0.1", luthien.port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(http_request(path, body))
        received = read_until(sock, frames[0])
        assert received.startswith(b"HTTP/1.1 200")
        assert not fake.wait_stream_closed(0)

    assert fake.wait_stream_closed(CLOSE_WITHIN_S)


def test_anthropic_sdk_closing_its_stream_closes_the_upstream(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    _, _, frames = STREAMS["messages"]
    fake.enqueue(StreamReply([*frames[:3], LONG_PAUSE, *frames[3:]]))
    client = anthropic.Anthropic(base_url=luthien.base_url, api_key="client-key", max_retries=0)

    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=USER) as stream:
        events = iter(stream)
        assert next(events).type == "message_start"
        assert not fake.wait_stream_closed(0)

    assert fake.wait_stream_closed(CLOSE_WITHIN_S)


def test_openai_sdk_closing_its_stream_closes_the_upstream(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    _, _, frames = STREAMS["chat"]
    fake.enqueue(StreamReply([*frames[:2], LONG_PAUSE, *frames[2:]]))
    client = openai.OpenAI(base_url=f"{luthien.base_url}/v1", api_key="client-key", max_retries=0)

    chunks = client.chat.completions.create(model="gpt-5", messages=USER, stream=True)
    events = iter(chunks)
    assert next(events).object == "chat.completion.chunk"
    assert not fake.wait_stream_closed(0)
    chunks.close()

    assert fake.wait_stream_closed(CLOSE_WITHIN_S)


def test_proxy_keeps_serving_after_a_disconnect(luthien: LuthienServer, fake: FakeProvider) -> None:
    path, body, frames = STREAMS["messages"]
    fake.enqueue(StreamReply([frames[0], LONG_PAUSE, *frames[1:]]))
    with httpx.stream("POST", f"{luthien.base_url}{path}", json=body) as response:
        chunks = response.iter_raw()
        read_until_frames(chunks, 1)
        assert not fake.wait_stream_closed(0)
    assert fake.wait_stream_closed(CLOSE_WITHIN_S)

    fake.enqueue(StreamReply(frames))
    with httpx.stream("POST", f"{luthien.base_url}{path}", json=body) as response:
        assert b"".join(response.iter_bytes()) == b"".join(frames)
    assert fake.open_streams == 0


class SilentUpstream:
    """A TCP server that takes one HTTP request and never answers.

    The fake provider's `HangReply` exposes no public sign of its connection being closed, so this
    server records the moment the proxy hangs up: `hung_up` is set when the peer closes the socket.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.received = threading.Event()
        self.hung_up = threading.Event()
        self._connection: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="silent-upstream", daemon=True)

    def start(self) -> SilentUpstream:
        self._thread.start()
        return self

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:  # stopped before anyone connected
            return
        self._connection = connection
        buffer = b""
        with contextlib.suppress(OSError), connection:
            while chunk := connection.recv(65536):
                buffer += chunk
                if b"\r\n\r\n" in buffer:
                    self.received.set()
        self.hung_up.set()

    def stop(self) -> None:
        self._listener.close()
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=SOCKET_TIMEOUT_S)


@pytest.fixture
def silent() -> Iterator[SilentUpstream]:
    upstream = SilentUpstream().start()
    yield upstream
    upstream.stop()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": USER}),
        ("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": USER, "stream": True}),
        ("/v1/chat/completions", {"model": "gpt-5", "messages": USER}),
        ("/v1/responses", {"model": "gpt-5", "input": "hi"}),
    ],
    ids=["messages", "messages-stream", "chat", "responses"],
)
def test_client_giving_up_before_upstream_answers_cancels_the_upstream_call(
    make_luthien: LuthienFactory, silent: SilentUpstream, path: str, body: dict[str, Any]
) -> None:
    server = make_luthien(anthropic_base_url=silent.base_url, openai_base_url=f"{silent.base_url}/v1")

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.base_url}{path}", json=body, timeout=CLIENT_TIMEOUT_S)

    assert silent.received.is_set()
    assert silent.hung_up.wait(CLOSE_WITHIN_S)


def test_client_giving_up_on_hanging_fake_leaves_proxy_serving(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    """The same scenario against the fake's `HangReply`.

    The fake exposes no public state for a hanging reply whose connection was dropped, so this
    checks what it can: the call reached the upstream, and the proxy answers the next call.
    """
    fake.enqueue(HangReply())
    body = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": USER}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{luthien.base_url}/v1/messages", json=body, timeout=CLIENT_TIMEOUT_S)

    assert [request.path for request in fake.requests] == ["/v1/messages"]
    response = httpx.post(f"{luthien.base_url}/v1/messages", json=body)
    assert response.status_code == 200
    assert len(fake.requests) == 2
