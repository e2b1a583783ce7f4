"""`GET /ready`: each dependency's state, and `degraded` (still serving) when one is away.

The records database and the live event bus are made unavailable for real: PostgreSQL behind a
loopback forwarder that is switched off (the machine's PostgreSQL is shared), Redis on a port where
nothing listens. Calls keep being served meanwhile.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, anthropic_message
from tests.support.ports import free_port
from tests.support.records import GUARD_S
from tests.support.servers import LuthienServer
from tests.support.tcp_forwarder import through_forwarder

MESSAGES_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}


def ready(server: LuthienServer) -> httpx.Response:
    return httpx.get(f"{server.base_url}/ready", timeout=GUARD_S)


def served(server: LuthienServer, fake: FakeProvider) -> bool:
    fake.enqueue(JSONReply(anthropic_message("still here")))
    response = httpx.post(f"{server.base_url}/v1/messages", json=MESSAGES_BODY, timeout=GUARD_S)
    return response.status_code == 200 and response.json()["content"][0]["text"] == "still here"


def test_ready_with_the_embedded_defaults(luthien: LuthienServer) -> None:
    response = ready(luthien)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["dropped"] == 0
    assert body["checks"]["events"] == {"status": "ok", "backend": "memory"}


def test_ready_needs_no_credentials_where_everything_else_does(make_luthien: LuthienFactory) -> None:
    server = make_luthien(api_key="proxy-key-ready", admin_key="admin-key-ready")

    assert ready(server).status_code == 200
    assert httpx.get(f"{server.base_url}/api/policies").status_code == 401


def test_recording_off_is_reported_as_off(make_luthien: LuthienFactory) -> None:
    body = ready(make_luthien(records=False)).json()

    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "off"}


def test_a_database_that_goes_away_degrades_and_comes_back(
    make_luthien: LuthienFactory, fake: FakeProvider, postgres_url: str
) -> None:
    forwarder, via_forwarder = through_forwarder(postgres_url)
    server = make_luthien(database_url=via_forwarder, database_timeout_s=1.0)
    try:
        away = ready(server)
        assert served(server, fake)
        server.run(forwarder.start(), GUARD_S)
        back = ready(server)
    finally:
        server.run(forwarder.stop(), GUARD_S)

    assert away.status_code == 200
    assert away.json()["status"] == "degraded"
    database = away.json()["checks"]["database"]
    assert database["status"] == "unavailable"
    assert database["error"]
    assert str(forwarder.port) not in away.text  # error types only, never connection details
    assert back.json()["status"] == "ok"
    assert back.json()["checks"]["database"]["status"] == "ok"


def test_an_unreachable_redis_degrades_and_calls_still_flow(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(redis_url=f"redis://127.0.0.1:{free_port()}/0")

    response = ready(server)

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["events"] == {"status": "unavailable", "backend": "redis"}
    assert served(server, fake)
