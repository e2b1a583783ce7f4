"""Recording through the real gateway on each database, and while the database is away.

Calls must keep succeeding whatever the database does: PostgreSQL unreachable at startup or stopped
mid-run (a loopback TCP forwarder switched off stands in for it: the machine's PostgreSQL is shared),
SQLite held under an exclusive lock. The backlog is written once the database is back.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
from sqlalchemy.engine import make_url

from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, StreamReply, anthropic_stream
from tests.support.records import GUARD_S, open_sdks, record_of
from tests.support.servers import LuthienServer
from tests.support.tcp_forwarder import through_forwarder

USER: Any = [{"role": "user", "content": "hi"}]


def stream_calls(server: LuthienServer, fake: FakeProvider, texts: list[str]) -> list[str]:
    """One streaming Anthropic call per text, each answered in full; their transaction ids."""
    with open_sdks(server.base_url) as sdks:
        for text in texts:
            fake.enqueue(StreamReply(anthropic_stream(text)))
            with sdks.anthropic.messages.stream(
                model="claude-sonnet-4-6", max_tokens=64, messages=USER
            ) as stream:
                assert stream.get_final_text() == text
        return sdks.transaction_ids


def assert_recorded(server: LuthienServer, transaction_ids: list[str], texts: list[str]) -> None:
    for transaction_id, text in zip(transaction_ids, texts, strict=True):
        record = record_of(server, transaction_id)
        assert record.status is TransactionStatus.OK
        assert record.original_response is not None
        assert orjson.loads(record.original_response)["content"][0]["text"] == text


def test_calls_are_recorded_in_postgresql(
    make_luthien: LuthienFactory, fake: FakeProvider, postgres_url: str
) -> None:
    server = make_luthien(database_url=postgres_url)

    texts = ["One.", "Two."]
    assert_recorded(server, stream_calls(server, fake, texts), texts)


def test_calls_flow_while_postgresql_is_away_and_are_recorded_when_it_returns(
    make_luthien: LuthienFactory, fake: FakeProvider, postgres_url: str
) -> None:
    forwarder, via_forwarder = through_forwarder(postgres_url)
    # Nothing listens on the forwarder's port yet: the database is unreachable at startup.
    server = make_luthien(database_url=via_forwarder, database_timeout_s=1.0)
    try:
        before = stream_calls(server, fake, ["Before."])
        server.run(forwarder.start(), GUARD_S)
        assert_recorded(server, before, ["Before."])

        server.run(forwarder.stop(), GUARD_S)
        during = stream_calls(server, fake, ["During one.", "During two."])
        server.run(forwarder.start(), GUARD_S)
        assert_recorded(server, during, ["During one.", "During two."])
    finally:
        server.run(forwarder.stop(), GUARD_S)


def test_calls_flow_while_sqlite_is_locked_and_are_recorded_after(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(database_timeout_s=0.05)
    path = make_url(server.settings.database_url).database
    assert path is not None
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        texts = ["Locked one.", "Locked two."]
        transaction_ids = stream_calls(server, fake, texts)
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    assert_recorded(server, transaction_ids, texts)
