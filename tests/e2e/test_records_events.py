"""The gateway's live events, on the in-process bus and through Redis.

`transaction.started`, one `transaction.activity` per activity event, and `transaction.completed`
carrying the record's summary.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from luthien.config import LuthienConfig
from luthien.events.bus import (
    TRANSACTION_ACTIVITY,
    TRANSACTION_COMPLETED,
    TRANSACTION_STARTED,
    parse_event_id,
)
from luthien.records.model import TransactionStatus
from luthien.records.summary import summarize, summary_fields
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.judge_calls import RM, model_reply
from tests.support.ports import free_port
from tests.support.records import live_events, open_sdks, record_of

REDIS_URL = "redis://127.0.0.1:6379/0"
SHELL = LuthienConfig.model_validate({"policies": {"shell": {"class": "block_commands"}}, "policy": "shell"})
USER: Any = [{"role": "user", "content": "Please tidy up the repository."}]


@pytest.fixture
def stream_key() -> Iterator[str]:
    """A Redis stream key of this test's own, deleted afterwards."""
    key = f"luthien-test:events:{uuid.uuid4()}"
    yield key
    with redis.Redis.from_url(REDIS_URL) as client:
        client.delete(key)


@pytest.fixture(params=["memory", "redis"])
def bus_settings(request: pytest.FixtureRequest, stream_key: str) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return {"redis_url": REDIS_URL, "events_stream_key": stream_key}


def test_a_call_publishes_started_activity_and_completed(
    make_luthien: LuthienFactory, fake: FakeProvider, bus_settings: dict[str, Any]
) -> None:
    server = make_luthien(SHELL, **bus_settings)
    fake.enqueue(model_reply("chat", True, "Cleaning up.", [RM]))

    with open_sdks(server.base_url) as sdks:
        with sdks.openai.chat.completions.stream(model="gpt-5", messages=USER, user="session-7") as stream:
            stream.get_final_completion()
        transaction_id = sdks.last_transaction

    events = live_events(server, transaction_id)
    record = record_of(server, transaction_id)
    assert [event.type for event in events] == [
        TRANSACTION_STARTED,
        TRANSACTION_ACTIVITY,
        TRANSACTION_ACTIVITY,
        TRANSACTION_COMPLETED,
    ]
    ids = [parse_event_id(event.id) for event in events]
    assert None not in ids
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    started, decision, blocked, completed = events
    assert started.data == {
        "model": "gpt-5",
        "policy": "shell",
        "client_api": "openai_chat",
        "endpoint": "/v1/chat/completions",
        "session_id": "session-7",
        "streaming": True,
    }
    assert decision.data == {
        "event_type": "commands.decision",
        "policy": "shell",
        "tool_name": "Bash",
        "verdict": "block",
    }
    assert blocked.data == {
        "event_type": "policy.blocked",
        "policy": "shell",
        "tool_name": "Bash",
        "verdict": "block",
    }
    assert record.status is TransactionStatus.BLOCKED
    assert completed.data == summary_fields(summarize(record))
    assert completed.data["status"] == "blocked"
    assert completed.data["tool_names"] == ["Bash"]
    assert completed.data["preview"] == "Please tidy up the repository."


def test_calls_flow_when_redis_is_unreachable(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(SHELL, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    fake.enqueue(model_reply("anthropic", True, "Cleaning up.", [RM]))

    with open_sdks(server.base_url) as sdks:
        with sdks.anthropic.messages.stream(
            model="claude-sonnet-4-6", max_tokens=64, messages=USER
        ) as stream:
            message = stream.get_final_message()
        transaction_id = sdks.last_transaction

    assert message.stop_reason == "end_turn"
    assert record_of(server, transaction_id).status is TransactionStatus.BLOCKED
    assert server.app.state.gateway.bus.healthy is False
