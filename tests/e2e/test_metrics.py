"""`GET /metrics` on a real server in front of the fake provider: what a scraper sees after real calls.

Metrics are fed when a call's recorder finishes, just after the client has its answer, so a test
scrapes until the expected value appears (bounded by `GUARD_S`, never reached when it works).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from luthien.config import LuthienConfig
from luthien.gateway.app import create_app
from luthien.observability.metrics import BreakerState
from luthien.testing.plugin import settings_for
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    StreamReply,
    ToolCall,
    anthropic_error_body,
    anthropic_error_event,
    anthropic_message,
    anthropic_stream,
    chat_completion,
)
from tests.support.metrics import MESSAGES_BODY, MODEL, calls, scrape, scrape_until, total, value
from tests.support.ports import free_port
from tests.support.records import GUARD_S
from tests.support.servers import LuthienServer
from tests.support.tcp_forwarder import through_forwarder

ADMIN_KEY = "admin-key-metrics"
RM = ToolCall("toolu_01RmRfRoot", "Bash", {"command": "rm -rf /", "description": "wipe"})
LS = ToolCall("toolu_01ListFiles", "Bash", {"command": "ls -la", "description": "list files"})


def post(server: LuthienServer, path: str = "/v1/messages", **body: Any) -> httpx.Response:
    return httpx.post(f"{server.base_url}{path}", json={**MESSAGES_BODY, **body}, timeout=GUARD_S)


def test_calls_latency_and_tokens_are_counted_by_endpoint_model_upstream_and_status(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien()
    fake.enqueue(JSONReply(anthropic_message("one")), StreamReply(anthropic_stream("two")))
    fake.enqueue(JSONReply(chat_completion("three", model="gpt-5")))

    assert post(server).status_code == 200
    assert post(server, stream=True).status_code == 200
    chat = httpx.post(
        f"{server.base_url}/v1/chat/completions",
        json={"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]},
        timeout=GUARD_S,
    )
    assert chat.status_code == 200
    samples = scrape_until(server, lambda s: calls(s) == 3)

    labels = {"endpoint": "/v1/messages", "model": MODEL, "upstream": "anthropic", "status": "ok"}
    assert value(samples, "luthien_calls_total", **labels) == 2
    chat_labels = {"endpoint": "/v1/chat/completions", "model": "gpt-5", "upstream": "openai", "status": "ok"}
    assert value(samples, "luthien_calls_total", **chat_labels) == 1
    assert value(samples, "luthien_call_duration_seconds_count", endpoint="/v1/messages", model=MODEL) == 2
    # A whole body's first byte and a stream's first text delta are each a first token.
    assert (
        value(samples, "luthien_time_to_first_token_seconds_count", endpoint="/v1/messages", model=MODEL) == 2
    )
    assert value(samples, "luthien_tokens_total", model=MODEL, upstream="anthropic", kind="input") == 50
    assert value(samples, "luthien_tokens_total", model=MODEL, upstream="anthropic", kind="output") > 0
    assert value(samples, "luthien_calls_in_progress", endpoint="/v1/messages") == 0
    assert value(samples, "luthien_streams_in_progress", endpoint="/v1/messages") == 0


def test_token_counts_are_counted_without_being_recorded(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien()
    fake.enqueue(JSONReply({"input_tokens": 7}))

    assert post(server, "/v1/messages/count_tokens").status_code == 200
    samples = scrape_until(server, lambda s: calls(s) == 1)

    assert calls(samples, endpoint="/v1/messages/count_tokens", status="ok") == 1


def test_recording_off_still_counts_calls(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(records=False)
    fake.enqueue(JSONReply(anthropic_message("hi")))

    assert post(server).status_code == 200
    samples = scrape_until(server, lambda s: calls(s) == 1)

    assert calls(samples, status="ok", model=MODEL) == 1
    assert value(samples, "luthien_record_queue_depth") == 0


def test_model_names_beyond_the_limit_count_as_other(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(metrics_max_models=2)
    models = ["model-a", "model-b", "model-c", "model-d", "model-a"]
    for model in models:
        fake.enqueue(JSONReply(anthropic_message("hi", model=model)))
        assert post(server, model=model).status_code == 200
    samples = scrape_until(server, lambda s: calls(s) == len(models))

    assert calls(samples, model="model-a") == 2
    assert calls(samples, model="model-b") == 1
    assert calls(samples, model="other") == 2
    assert calls(samples, model="model-c") == 0


def test_upstream_http_errors_are_counted_by_upstream_and_kind(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien()
    fake.enqueue(JSONReply(anthropic_error_body("overloaded_error", "busy"), status=529))

    assert post(server).status_code == 529
    samples = scrape_until(server, lambda s: calls(s) == 1)

    assert calls(samples, status="error", upstream="anthropic") == 1
    assert value(samples, "luthien_upstream_errors_total", upstream="anthropic", kind="http_529") == 1


def test_an_unreachable_upstream_is_counted_as_a_connection_error(make_luthien: LuthienFactory) -> None:
    server = make_luthien(anthropic_base_url=f"http://127.0.0.1:{free_port()}")

    assert post(server).status_code == 502
    samples = scrape_until(server, lambda s: calls(s) == 1)

    assert value(samples, "luthien_upstream_errors_total", upstream="anthropic", kind="connect") == 1


def commands_config() -> LuthienConfig:
    return LuthienConfig.model_validate(
        {"policies": {"commands": {"class": "block_commands"}}, "policy": "commands"}
    )


def test_policy_decisions_and_blocks_are_counted_by_policy(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(commands_config())
    fake.enqueue(StreamReply(anthropic_stream("Cleaning.", tool_calls=[RM, LS])))

    assert post(server, stream=True).status_code == 200
    samples = scrape_until(server, lambda s: calls(s) == 1)

    assert calls(samples, status="blocked") == 1
    assert value(samples, "luthien_policy_decisions_total", policy="commands", decision="block") == 1
    assert value(samples, "luthien_policy_decisions_total", policy="commands", decision="allow") == 1
    assert value(samples, "luthien_policy_blocks_total", policy="commands") == 1


def test_judge_latency_and_failures_are_measured(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": fake.base_url}},
            "policies": {
                "guard": {
                    "class": "tool_call_judge",
                    "config": {"judge": {"upstream": "judge", "model": "j"}},
                }
            },
            "policy": "guard",
        }
    )
    server = make_luthien(config)
    # The model asks for two tool calls; the judge allows one and answers the other with no verdict.
    fake.enqueue(JSONReply(anthropic_message("Listing.", tool_calls=[LS])))
    fake.enqueue(JSONReply(anthropic_message('{"probability": 0.1, "explanation": "fine"}', model="j")))
    fake.enqueue(JSONReply(anthropic_message("Deleting.", tool_calls=[RM])))
    fake.enqueue(JSONReply(anthropic_message("no verdict here", model="j")))

    assert post(server).status_code == 200
    assert post(server).status_code == 200
    samples = scrape_until(server, lambda s: calls(s) == 2)

    assert value(samples, "luthien_judge_duration_seconds_count", policy="guard") == 2
    assert value(samples, "luthien_judge_failures_total", policy="guard", reason="malformed_verdict") == 1
    assert value(samples, "luthien_policy_decisions_total", policy="guard", decision="allow") == 1
    assert value(samples, "luthien_policy_decisions_total", policy="guard", decision="block") == 1


def test_dropped_records_and_the_queue_depth_show_while_the_database_is_away(
    make_luthien: LuthienFactory, fake: FakeProvider, postgres_url: str
) -> None:
    forwarder, via_forwarder = through_forwarder(postgres_url)
    server = make_luthien(database_url=via_forwarder, database_timeout_s=1.0, record_queue_size=1)
    for _ in range(3):
        fake.enqueue(JSONReply(anthropic_message("hi")))
        assert post(server).status_code == 200

    samples = scrape_until(server, lambda s: calls(s) == 3)

    assert value(samples, "luthien_records_dropped_total") == 2
    assert value(samples, "luthien_record_queue_depth") == 1
    server.run(forwarder.start(), GUARD_S)
    try:
        written = scrape_until(server, lambda s: value(s, "luthien_records_written_total") == 1)
    finally:
        server.run(forwarder.stop(), GUARD_S)
    assert value(written, "luthien_record_queue_depth") == 0


def test_the_breaker_state_setter_is_exposed(make_luthien: LuthienFactory) -> None:
    server = make_luthien()
    server.app.state.gateway.metrics.breaker_state("anthropic", BreakerState.OPEN)

    assert value(scrape(server), "luthien_upstream_breaker_state", upstream="anthropic") == BreakerState.OPEN


def test_metrics_need_the_admin_key_when_one_is_set(make_luthien: LuthienFactory) -> None:
    server = make_luthien(api_key="proxy-key-metrics", admin_key=ADMIN_KEY)
    url = f"{server.base_url}/metrics"

    assert httpx.get(url, timeout=GUARD_S).status_code == 401
    wrong = httpx.get(url, headers={"authorization": "Bearer proxy-key-metrics"}, timeout=GUARD_S)
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert scrape(server, ADMIN_KEY) is not None


@pytest.mark.asyncio
async def test_without_an_admin_key_only_loopback_clients_may_scrape(
    fake: FakeProvider, tmp_path: Path
) -> None:
    app = create_app(settings_for(fake, tmp_path, records=False))
    transports = {
        "remote": httpx.ASGITransport(app, client=("203.0.113.7", 40000)),
        "loopback": httpx.ASGITransport(app, client=("127.0.0.1", 40000)),
    }
    answers: dict[str, httpx.Response] = {}
    for name, transport in transports.items():
        async with httpx.AsyncClient(transport=transport, base_url="http://luthien") as client:
            answers[name] = await client.get("/metrics")

    assert answers["remote"].status_code == 403
    assert answers["remote"].json()["error"]["type"] == "permission_error"
    assert answers["loopback"].status_code == 200


def test_a_silent_upstream_and_a_cut_stream_are_counted_as_upstream_errors(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(upstream_read_timeout_s=0.5)
    fake.enqueue(HangReply())
    assert post(server).status_code == 504
    fake.enqueue(StreamReply(anthropic_stream("cut short")[:2], cut=True))
    assert post(server, stream=True).status_code == 200
    # An error event the upstream sends itself reaches the client byte for byte.
    overloaded = anthropic_error_event("overloaded_error", "busy")
    fake.enqueue(StreamReply([*anthropic_stream("then busy")[:2], overloaded]))
    assert post(server, stream=True).status_code == 200

    samples = scrape_until(server, lambda s: calls(s) == 3)

    assert value(samples, "luthien_upstream_errors_total", upstream="anthropic", kind="timeout") == 1
    assert value(samples, "luthien_upstream_errors_total", upstream="anthropic", kind="stream") == 2
    assert calls(samples, status="error") == 3


def test_the_process_figures_are_exposed(make_luthien: LuthienFactory) -> None:
    samples = scrape(make_luthien())

    assert value(samples, "process_resident_memory_bytes") > 0
    assert total(samples, "python_info") == 1
