"""`GET /api/activity/stream`: live events over SSE, filtered, resumable, kept alive."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, ToolCall, anthropic_message
from tests.support.admin_client import anthropic_call, transaction_id
from tests.support.servers import LuthienServer
from tests.support.sse_reader import GUARD_S, Frame, SSEReader

KEEPALIVE_S = 0.05
CONFIG = LuthienConfig.model_validate(
    {"policies": {"guard": {"class": "block_commands"}, "shout": {"class": "all_caps"}}, "policy": "noop"}
)
DANGEROUS = ToolCall("toolu_danger", "Bash", {"command": "rm -rf /"})
ADMIN_KEY = "stream-admin-key"


@pytest.fixture
def server(make_luthien: LuthienFactory) -> LuthienServer:
    return make_luthien(config=CONFIG, allow_policy_header=True, activity_keepalive_s=KEEPALIVE_S)


def completed(transaction: str) -> Callable[[Frame], bool]:
    return lambda frame: (
        frame.event == "transaction.completed" and frame.data["transaction_id"] == transaction
    )


def guarded_call(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/v1/messages",
        json={"model": "claude-test", "max_tokens": 10, "messages": [{"role": "user", "content": "go"}]},
        headers={"x-api-key": "k", "x-luthien-policy": "guard"},
    )
    return transaction_id(response)


def test_events_arrive_as_they_happen_not_with_the_next_keepalive(make_luthien: LuthienFactory) -> None:
    server = make_luthien(activity_keepalive_s=3600.0)  # a keep-alive never comes during the test

    with httpx.stream("GET", f"{server.base_url}/api/activity/stream", timeout=GUARD_S) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        transaction = transaction_id(anthropic_call(server.base_url))
        # Waits for the event (a read timeout of `GUARD_S` if it only came with a keep-alive).
        completed = next(
            json.loads(line.removeprefix("data:"))
            for line in lines
            if line.startswith("data:") and '"transaction.completed"' in line and transaction in line
        )

    assert completed["data"]["status"] == "ok"


def test_a_call_through_the_proxy_arrives_as_events(server: LuthienServer) -> None:
    reader = SSEReader(f"{server.base_url}/api/activity/stream").start()

    transaction = transaction_id(anthropic_call(server.base_url))

    started = reader.next_matching(lambda f: f.event == "transaction.started")
    done = reader.next_matching(completed(transaction))
    reader.stop()
    assert reader.status == 200
    assert reader.content_type.startswith("text/event-stream")
    assert started.data["transaction_id"] == transaction
    assert started.data["data"]["model"] == "claude-test"
    assert done.data["data"]["status"] == "ok"
    assert done.id is not None
    assert done.data["id"] == done.id


def test_idle_streams_get_keep_alive_comments(server: LuthienServer) -> None:
    reader = SSEReader(f"{server.base_url}/api/activity/stream").start()

    frame = reader.next_matching(lambda f: f.comment is not None)
    reader.stop()

    assert frame.comment == "keep-alive"


def test_blocked_only_sends_only_what_was_blocked(server: LuthienServer, fake: FakeProvider) -> None:
    reader = SSEReader(f"{server.base_url}/api/activity/stream?blocked=true").start()
    fake.enqueue(
        JSONReply(anthropic_message("fine")), JSONReply(anthropic_message("x", tool_calls=[DANGEROUS]))
    )

    plain = transaction_id(anthropic_call(server.base_url))
    blocked = guarded_call(server.base_url)

    frame = reader.next_matching(lambda f: f.event is not None)
    last = reader.next_matching(completed(blocked))
    reader.stop()
    assert frame.data["transaction_id"] == blocked
    assert plain != blocked
    assert last.data["data"]["status"] == "blocked"


def test_a_reconnecting_monitor_gets_what_it_missed(server: LuthienServer) -> None:
    first = transaction_id(anthropic_call(server.base_url))
    reader = SSEReader(f"{server.base_url}/api/activity/stream").start()
    seen = transaction_id(anthropic_call(server.base_url))
    last_seen = reader.next_matching(completed(seen))
    reader.stop()

    missed = transaction_id(anthropic_call(server.base_url))
    resumed = SSEReader(
        f"{server.base_url}/api/activity/stream", {"last-event-id": str(last_seen.id)}
    ).start()

    frame = resumed.next_matching(lambda f: f.event is not None)
    resumed.stop()
    assert frame.data["transaction_id"] == missed
    assert first != missed


def test_a_policy_switch_is_an_event_naming_who_made_it(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG, admin_key=ADMIN_KEY, activity_keepalive_s=KEEPALIVE_S)
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    reader = SSEReader(f"{server.base_url}/api/activity/stream", auth).start()

    httpx.put(f"{server.base_url}/api/policy", json={"policy": "shout"}, headers=auth)

    frame: Frame = reader.next_matching(lambda f: f.event == "policy.switched")
    reader.stop()
    assert frame.data["data"] == {
        "policy": "shout",
        "previous": "noop",
        "by": "admin-key",
        "configured": "noop",
        "shadow": [],
        "configured_shadow": [],
    }


@pytest.mark.parametrize(
    ("query", "field"), [("status=nope", "status"), ("since=x", "since"), ("limit=5", "limit")]
)
def test_a_malformed_stream_filter_is_a_400(server: LuthienServer, query: str, field: str) -> None:
    response = httpx.get(f"{server.base_url}/api/activity/stream?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("header", ["yesterday", "12-x", "-", "1-2-3"])
def test_a_malformed_last_event_id_is_a_400(server: LuthienServer, header: str) -> None:
    response = httpx.get(f"{server.base_url}/api/activity/stream", headers={"last-event-id": header})
    by_query = httpx.get(f"{server.base_url}/api/activity/stream", params={"last_event_id": header})

    for answer in (response, by_query):
        assert answer.status_code == 400
        assert answer.json()["error"]["field"] == "last_event_id"


def test_a_resume_by_query_parameter_gets_what_was_missed(server: LuthienServer) -> None:
    reader = SSEReader(f"{server.base_url}/api/activity/stream").start()
    seen = transaction_id(anthropic_call(server.base_url))
    last_seen = reader.next_matching(completed(seen))
    reader.stop()
    missed = transaction_id(anthropic_call(server.base_url))

    resumed = SSEReader(f"{server.base_url}/api/activity/stream?last_event_id={last_seen.id}").start()
    frame = resumed.next_matching(lambda f: f.event is not None)
    resumed.stop()

    assert (frame.event, frame.data["transaction_id"]) == ("transaction.started", missed)


def test_status_and_event_type_filters_apply_to_live_events(
    server: LuthienServer, fake: FakeProvider
) -> None:
    by_status = SSEReader(f"{server.base_url}/api/activity/stream?status=blocked").start()
    by_type = SSEReader(f"{server.base_url}/api/activity/stream?event_type=commands.decision").start()
    fake.enqueue(
        JSONReply(anthropic_message("fine")), JSONReply(anthropic_message("x", tool_calls=[DANGEROUS]))
    )

    transaction_id(anthropic_call(server.base_url))
    blocked = guarded_call(server.base_url)

    status_frame = by_status.next_matching(lambda f: f.event is not None)
    type_frame = by_type.next_matching(lambda f: f.event is not None)
    by_status.stop()
    by_type.stop()
    assert (status_frame.event, status_frame.data["transaction_id"]) == ("transaction.completed", blocked)
    assert (type_frame.event, type_frame.data["transaction_id"]) == ("transaction.activity", blocked)
    assert type_frame.data["data"]["event_type"] == "commands.decision"
