"""Graceful shutdown of a real `luthien serve` process: SIGTERM in the middle of a streamed call.

The fake provider holds the stream at a `Gate` after the first words, so the signal arrives while the
call is in flight, for as long as the test needs; then the stream goes on. The client (the official
Anthropic SDK) must get the whole answer, new connections must be refused and an open activity
monitor stream must end meanwhile, the process must exit 0 and the call must be in the database,
read back after exit through the storage API.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from luthien.records.model import TransactionRecord, TransactionStatus
from luthien.settings import Settings
from luthien.storage import open_storage
from luthien.upstream.client import SHUTDOWN_MESSAGE
from tests.fake_provider import FakeProvider, Gate, HangReply, StreamReply, anthropic_stream
from tests.support.admin_client import anthropic_call
from tests.support.serve_process import GUARD_S, POLL_S, ServeProcess, refuses_connections

TEXT = "the whole answer, every word of it"
TRANSACTION_HEADER = "x-luthien-transaction-id"


@pytest.fixture
def processes() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for process in started:
        process.stop()


def held_stream(gate: Gate) -> StreamReply:
    """A streamed answer that waits at `gate` after its first text delta."""
    frames = anthropic_stream(text=TEXT, text_chunks=4)
    first_text = next(i for i, frame in enumerate(frames) if b"text_delta" in frame)
    return StreamReply([*frames[: first_text + 1], gate, *frames[first_text + 1 :]])


def read_record(database_url: str, transaction_id: str) -> TransactionRecord | None:
    """The stored record of a call, read with the project's storage API (the server has exited)."""

    async def read() -> TransactionRecord | None:
        storage = open_storage(Settings(database_url=database_url))
        await storage.start()
        try:
            assert storage.store is not None
            return await storage.store.get_transaction(transaction_id)
        finally:
            await storage.close()

    return asyncio.run(read())


def wait_refused(process: ServeProcess) -> None:
    """Wait until the process stops accepting connections (bounded)."""
    deadline = time.monotonic() + GUARD_S
    while not refuses_connections(process.port):
        assert time.monotonic() < deadline, "the server kept accepting connections after SIGTERM"
        time.sleep(POLL_S)


def start_server(processes: list[ServeProcess], fake: FakeProvider, tmp_path: Path, **extra: str) -> str:
    database_url = f"sqlite:///{tmp_path / 'records.db'}"
    settings = {
        "LUTHIEN_ANTHROPIC_BASE_URL": fake.base_url,
        "LUTHIEN_DATABASE_URL": database_url,
        "LUTHIEN_LOG_LEVEL": "warning",
        **extra,
    }
    processes.append(ServeProcess(settings, tmp_path).start())
    return database_url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_stream_in_flight_at_shutdown_completes_and_is_recorded(
    processes: list[ServeProcess], fake: FakeProvider, tmp_path: Path, sig: signal.Signals
) -> None:
    database_url = start_server(processes, fake, tmp_path)
    server = processes[0]
    gate = Gate()
    fake.enqueue(held_stream(gate))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-client", max_retries=0)

    with (
        httpx.stream("GET", f"{server.base_url}/api/activity/stream", timeout=GUARD_S) as monitor,
        client.messages.stream(
            model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        transaction_id = stream.response.headers[TRANSACTION_HEADER]
        events = iter(stream)
        next(event for event in events if event.type == "text")
        server.signal(sig)
        # The endless monitor stream ends at once (its EventSource reconnects elsewhere), while the
        # call is still held by the upstream: it ends on its own, not at the grace deadline.
        for _ in monitor.iter_lines():
            pass
        wait_refused(server)
        assert server.process is not None
        assert server.process.poll() is None, "the server exited before the call in flight ended"
        gate.open()
        for _ in events:
            pass
        message = stream.get_final_message()

    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text"
    assert message.content[0].text == TEXT
    assert message.stop_reason == "end_turn"
    assert server.wait() == 0
    assert "Traceback" not in server.log()
    record = read_record(database_url, transaction_id)
    assert record is not None, "the call in flight at shutdown was not recorded"
    assert (record.status, record.http_status, record.streaming) == (TransactionStatus.OK, 200, True)
    assert record.original_response is not None
    assert json.loads(record.original_response)["content"][0]["text"] == TEXT


def test_a_stream_still_running_after_the_grace_period_is_cut_and_recorded(
    processes: list[ServeProcess], fake: FakeProvider, tmp_path: Path
) -> None:
    database_url = start_server(processes, fake, tmp_path, LUTHIEN_SHUTDOWN_GRACE_S="1")
    server = processes[0]
    fake.enqueue(held_stream(Gate()))  # never opened: the upstream stays silent past the grace period
    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-client", max_retries=0)

    with client.messages.stream(
        model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        transaction_id = stream.response.headers[TRANSACTION_HEADER]
        events = iter(stream)
        next(event for event in events if event.type == "text")
        server.signal(signal.SIGTERM)
        with pytest.raises(anthropic.APIStatusError) as error_event:
            for _ in events:
                pass

    assert error_event.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": SHUTDOWN_MESSAGE},
    }

    assert server.wait() == 0
    assert "Traceback" not in server.log()
    record = read_record(database_url, transaction_id)
    assert record is not None, "the call cut at shutdown was not recorded"
    assert (record.status, record.http_status) == (TransactionStatus.ERROR, 200)


def test_a_call_still_waiting_for_the_upstream_after_the_grace_period_gets_a_503(
    processes: list[ServeProcess], fake: FakeProvider, tmp_path: Path
) -> None:
    database_url = start_server(processes, fake, tmp_path, LUTHIEN_SHUTDOWN_GRACE_S="1")
    server = processes[0]
    fake.enqueue(HangReply())  # the upstream never answers
    answers: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answers.append(anthropic_call(server.base_url)))
    caller.start()
    wait_until_received(fake)

    server.signal(signal.SIGTERM)
    caller.join(GUARD_S)

    (answer,) = answers
    assert answer.status_code == 503
    assert answer.json() == {"type": "error", "error": {"type": "api_error", "message": SHUTDOWN_MESSAGE}}
    assert server.wait() == 0
    assert "Traceback" not in server.log()
    record = read_record(database_url, answer.headers[TRANSACTION_HEADER])
    assert record is not None
    assert (record.status, record.http_status) == (TransactionStatus.ERROR, 503)


def wait_until_received(fake: FakeProvider) -> None:
    """Wait until the fake provider has the call (bounded)."""
    deadline = time.monotonic() + GUARD_S
    while not fake.requests:
        assert time.monotonic() < deadline, "the call never reached the upstream"
        time.sleep(POLL_S)
