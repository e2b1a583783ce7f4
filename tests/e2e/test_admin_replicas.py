"""Two replicas sharing one Redis: a policy switch on one reaches the other; monitors see both.

A Redis subscription goes live asynchronously after a server starts, so each test first proves the
path is live the way the bus tests do: it repeats a harmless action until the other side has seen it
(a cadence, not a threshold), then asserts on a fresh action.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from luthien.config import LuthienConfig
from luthien.events.redis import CONTROL_SUFFIX
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, anthropic_message
from tests.support.admin_client import anthropic_call, transaction_id
from tests.support.polling import wait_until
from tests.support.servers import LuthienServer
from tests.support.sse_reader import Frame, SSEReader

REDIS_URL = "redis://127.0.0.1:6379/0"
PING_EVERY_S = 0.05
"""How often a liveness probe is repeated while the other replica's subscription is not yet live."""
CONFIG = LuthienConfig.model_validate(
    {"policies": {"shout": {"class": "all_caps"}, "whisper": {"class": "noop"}}, "policy": "noop"}
)
ADMIN_KEY = "replicas-admin-key"
AUTH = {"authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def replica_options() -> Iterator[dict[str, Any]]:
    """Settings for replicas on one Redis stream (a unique key, deleted afterwards)."""
    key = f"luthien-test:replicas:{uuid.uuid4()}"
    yield {
        "redis_url": REDIS_URL,
        "events_stream_key": key,
        "admin_key": ADMIN_KEY,
        "activity_keepalive_s": PING_EVERY_S,
    }
    with redis.Redis.from_url(REDIS_URL) as client:
        client.delete(key, key + CONTROL_SUFFIX)


@pytest.fixture
def replicas(
    make_luthien: LuthienFactory, replica_options: dict[str, Any]
) -> tuple[LuthienServer, LuthienServer]:
    """Two servers with their own databases on one Redis stream."""
    return make_luthien(config=CONFIG, **replica_options), make_luthien(config=CONFIG, **replica_options)


def active(server: LuthienServer) -> str:
    return str(httpx.get(f"{server.base_url}/api/policies", headers=AUTH).json()["active"])


def switch(server: LuthienServer, policy: str) -> None:
    response = httpx.put(f"{server.base_url}/api/policy", json={"policy": policy}, headers=AUTH)
    assert response.status_code == 200, response.text


def test_a_policy_switch_on_one_replica_switches_the_other(
    replicas: tuple[LuthienServer, LuthienServer], fake: FakeProvider
) -> None:
    first, second = replicas
    wait_until(lambda: active(second) == "whisper", lambda: switch(first, "whisper"), poll_s=PING_EVERY_S)
    wait_until(lambda: active(first) == "whisper")
    monitor = SSEReader(f"{first.base_url}/api/activity/stream", AUTH).start()

    switch(second, "shout")

    frame = monitor.next_matching(
        lambda f: f.event == "policy.switched" and f.data["data"]["policy"] == "shout"
    )
    monitor.stop()
    assert frame.data["data"] == {
        "policy": "shout",
        "previous": "whisper",
        "by": "admin-key",
        "configured": "noop",
        "shadow": [],
        "configured_shadow": [],
    }
    wait_until(lambda: active(first) == "shout")
    fake.enqueue(JSONReply(anthropic_message("quiet words")))
    answer = anthropic_call(first.base_url)
    assert answer.json()["content"][0]["text"] == "QUIET WORDS"


def shadows(server: LuthienServer) -> list[str]:
    return list(httpx.get(f"{server.base_url}/api/policies", headers=AUTH).json()["shadow"])


def switch_shadow(server: LuthienServer, names: list[str]) -> None:
    response = httpx.put(f"{server.base_url}/api/shadow", json={"shadow": names}, headers=AUTH)
    assert response.status_code == 200, response.text


def test_a_shadow_switch_on_one_replica_reaches_the_other(
    replicas: tuple[LuthienServer, LuthienServer], fake: FakeProvider
) -> None:
    first, second = replicas
    wait_until(
        lambda: shadows(second) == ["whisper"], lambda: switch_shadow(first, ["whisper"]), poll_s=PING_EVERY_S
    )
    monitor = SSEReader(f"{first.base_url}/api/activity/stream", AUTH).start()

    switch_shadow(second, ["shout"])

    frame = monitor.next_matching(
        lambda f: f.event == "shadow.switched" and f.data["data"]["shadow"] == ["shout"]
    )
    monitor.stop()
    assert (frame.data["data"]["previous"], frame.data["data"]["by"]) == (["whisper"], "admin-key")
    wait_until(lambda: shadows(first) == ["shout"])
    assert active(first) == "noop"
    fake.enqueue(JSONReply(anthropic_message("quiet words")))
    answer = anthropic_call(first.base_url)
    assert answer.json()["content"][0]["text"] == "quiet words"  # the shadow's caps are never sent


def test_a_monitor_on_one_replica_sees_the_calls_of_the_other(
    replicas: tuple[LuthienServer, LuthienServer],
) -> None:
    first, second = replicas
    monitor = SSEReader(f"{second.base_url}/api/activity/stream", AUTH).start()
    probes: set[str] = set()
    seen: list[Frame] = []

    def probe_seen() -> bool:
        try:
            while True:
                frame = monitor.frames.get_nowait()
                seen.append(frame)
        except queue.Empty:
            pass
        return any(f.event == "transaction.completed" and f.data["transaction_id"] in probes for f in seen)

    wait_until(
        probe_seen,
        lambda: probes.add(transaction_id(anthropic_call(first.base_url, "probe"))),
        poll_s=PING_EVERY_S,
    )

    call = transaction_id(anthropic_call(first.base_url, "watched", session="agent-across", model="model-x"))

    started = monitor.next_matching(
        lambda f: f.event == "transaction.started" and f.data["transaction_id"] == call
    )
    completed = monitor.next_matching(
        lambda f: f.event == "transaction.completed" and f.data["transaction_id"] == call
    )
    monitor.stop()
    assert (started.data["data"]["model"], started.data["data"]["session_id"]) == ("model-x", "agent-across")
    assert (completed.data["data"]["status"], completed.data["data"]["model"]) == ("ok", "model-x")


def test_a_replica_started_after_a_switch_serves_the_switched_policy_from_its_first_call(
    make_luthien: LuthienFactory, replica_options: dict[str, Any], fake: FakeProvider
) -> None:
    first = make_luthien(config=CONFIG, **replica_options)
    switch(first, "shout")
    control_key = replica_options["events_stream_key"] + CONTROL_SUFFIX
    with redis.Redis.from_url(REDIS_URL) as client:
        # The switch is published off the request path: wait until it is in Redis.
        wait_until(lambda: client.xlen(control_key) > 0)

    late = make_luthien(config=CONFIG, **replica_options)
    fake.enqueue(JSONReply(anthropic_message("quiet words")))

    assert anthropic_call(late.base_url).json()["content"][0]["text"] == "QUIET WORDS"
    assert active(late) == "shout"


def test_a_replica_whose_configuration_names_another_policy_keeps_it(
    make_luthien: LuthienFactory, replica_options: dict[str, Any]
) -> None:
    first = make_luthien(config=CONFIG, **replica_options)
    switch(first, "shout")
    control_key = replica_options["events_stream_key"] + CONTROL_SUFFIX
    with redis.Redis.from_url(REDIS_URL) as client:
        wait_until(lambda: client.xlen(control_key) > 0)

    redeployed = make_luthien(config=CONFIG.model_copy(update={"policy": "whisper"}), **replica_options)

    assert active(redeployed) == "whisper"
