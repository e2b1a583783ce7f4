"""Circuit breakers per upstream, through a real server in front of the fake provider.

Failures are real: the fake answers 5xx, holds a call open, or the upstream is a loopback port where
nothing listens. "Fail fast without reaching the upstream" is checked on the fake's request log.
Cool-downs are short where a test needs the half-open state, which it then waits for on `/ready`
(polled with a bound); tests of the open state use a cool-down no test run reaches.
"""

from __future__ import annotations

import threading
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from luthien.config import LuthienConfig, RouteConfig, UpstreamApi, UpstreamConfig
from luthien.observability.metrics import BreakerState as BreakerGauge
from luthien.settings import Settings
from luthien.upstream.breaker import Breakers, BreakerState
from luthien.upstream.caller import ModelCaller, ModelCallError
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    RawReply,
    anthropic_error_body,
    anthropic_message,
)
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.records import GUARD_S
from tests.support.servers import LuthienServer

MESSAGES_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}
CHAT_BODY: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
NEVER_S = 3600.0
"""A cool-down no test waits out: the breaker stays open for the whole test."""
SHORT_COOLDOWN_S = 0.05


def server_error() -> JSONReply:
    return JSONReply(anthropic_error_body("api_error", "internal error"), status=500)


def messages(server: LuthienServer, model: str | None = None) -> httpx.Response:
    body = MESSAGES_BODY | ({"model": model} if model is not None else {})
    return httpx.post(
        f"{server.base_url}/v1/messages",
        json=body,
        headers={"anthropic-version": "2023-06-01", "x-api-key": "client-key"},
        timeout=GUARD_S,
    )


def ready(server: LuthienServer) -> httpx.Response:
    return httpx.get(f"{server.base_url}/ready", timeout=GUARD_S)


def breakers(server: LuthienServer) -> dict[str, str]:
    states: dict[str, str] = ready(server).json()["checks"]["upstreams"]["breakers"]
    return states


def breaker_gauge(server: LuthienServer, upstream: str) -> float:
    """`luthien_upstream_breaker_state{upstream=...}` as `/metrics` shows it."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=GUARD_S).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "luthien_upstream_breaker_state" and sample.labels == {"upstream": upstream}:
                return sample.value
    raise AssertionError(f"no breaker gauge for {upstream!r}")


def test_consecutive_5xx_open_the_breaker_and_calls_then_fail_fast_without_reaching_the_upstream(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(breaker_failures=2, breaker_cooldown_s=NEVER_S)
    client = anthropic.Anthropic(base_url=server.base_url, api_key="client-key", max_retries=0)
    fake.enqueue(server_error(), server_error())

    upstream_statuses: list[int] = []
    for _ in range(2):
        with pytest.raises(anthropic.InternalServerError) as failed:
            client.messages.create(**MESSAGES_BODY)
        upstream_statuses.append(failed.value.status_code)
    with pytest.raises(anthropic.InternalServerError) as refused:
        client.messages.create(**MESSAGES_BODY)
    readiness = ready(server)

    assert upstream_statuses == [500, 500]
    assert refused.value.status_code == 503
    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"]["type"] == "api_error"
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert len(fake.requests) == 2
    # The only upstream in use is open: this replica can serve nothing.
    assert readiness.status_code == 503
    assert readiness.json()["status"] == "unavailable"
    assert readiness.json()["checks"]["upstreams"]["status"] == "unavailable"
    assert readiness.json()["checks"]["upstreams"]["breakers"] == {"anthropic": "open", "openai": "closed"}


def test_openai_clients_get_the_503_in_their_shape(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(breaker_failures=1, breaker_cooldown_s=NEVER_S)
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="client-key", max_retries=0)
    fake.enqueue(RawReply(b"bad gateway", status=502))

    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(**CHAT_BODY)
    with pytest.raises(openai.InternalServerError) as refused:
        client.chat.completions.create(**CHAT_BODY)

    assert failed.value.status_code == 502
    assert refused.value.status_code == 503
    assert refused.value.type == "server_error"
    assert refused.value.code == "upstream_circuit_open"
    assert len(fake.requests) == 1


def test_upstream_429s_and_4xx_pass_through_and_never_open_it(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(breaker_failures=2, breaker_cooldown_s=NEVER_S)
    rate_limited = JSONReply(anthropic_error_body("rate_limit_error", "slow down"), status=429)
    invalid = JSONReply(anthropic_error_body("invalid_request_error", "bad"), status=400)
    fake.enqueue(rate_limited, rate_limited, invalid, rate_limited)

    statuses = [messages(server).status_code for _ in range(5)]

    assert statuses == [429, 429, 400, 429, 200]
    assert len(fake.requests) == 5
    assert breakers(server)["anthropic"] == "closed"
    assert ready(server).json()["status"] == "ok"


def test_only_consecutive_failures_count(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(breaker_failures=2, breaker_cooldown_s=NEVER_S)
    fake.enqueue(server_error(), JSONReply(anthropic_message("ok")), server_error())

    statuses = [messages(server).status_code for _ in range(4)]

    assert statuses == [500, 200, 500, 200]
    assert len(fake.requests) == 4


def test_connection_errors_open_it_and_other_upstreams_keep_serving(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    config = LuthienConfig(
        upstreams={
            "dead": UpstreamConfig(format=UpstreamApi.ANTHROPIC, base_url=f"http://127.0.0.1:{free_port()}")
        },
        routes=[RouteConfig(model="dead-*", upstream="dead")],
    )
    server = make_luthien(config=config, breaker_failures=2, breaker_cooldown_s=NEVER_S)

    served = messages(server).status_code
    dead = [messages(server, "dead-model").json() for _ in range(3)]
    statuses = [messages(server, "dead-model").status_code, messages(server).status_code]
    readiness = ready(server)

    assert served == 200
    assert [body["error"]["type"] for body in dead] == ["api_error", "api_error", "api_error"]
    assert statuses == [503, 200]
    assert readiness.status_code == 200
    assert readiness.json()["status"] == "degraded"
    assert readiness.json()["checks"]["upstreams"]["breakers"]["dead"] == "open"
    assert readiness.json()["checks"]["upstreams"]["breakers"]["anthropic"] == "closed"


def test_half_open_lets_one_trial_through_its_failure_reopens_and_its_success_closes(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(breaker_failures=1, breaker_cooldown_s=SHORT_COOLDOWN_S)
    fake.enqueue(server_error(), HangReply())
    assert messages(server).status_code == 500
    wait_until(lambda: breakers(server)["anthropic"] == "half_open")
    assert ready(server).json()["status"] == "degraded"  # half-open takes calls again

    trial: list[int] = []
    thread = threading.Thread(target=lambda: trial.append(messages(server).status_code))
    thread.start()
    wait_until(lambda: len(fake.requests) == 2)  # the trial call is at the upstream, held
    while_trial_runs = messages(server).status_code
    seen_while_trial_runs = len(fake.requests)
    fake.reset()  # the held call's connection is cut: the trial fails
    thread.join(GUARD_S)
    reopened = breakers(server)["anthropic"]

    wait_until(lambda: breakers(server)["anthropic"] == "half_open")
    fake.enqueue(JSONReply(anthropic_message("back")))
    recovered = messages(server)

    assert while_trial_runs == 503
    assert seen_while_trial_runs == 2
    assert trial == [502]
    assert reopened in {"open", "half_open"}  # half-open again once the short cool-down passed
    assert recovered.status_code == 200
    assert breakers(server)["anthropic"] == "closed"
    assert ready(server).json()["status"] == "ok"


def test_the_breaker_state_is_in_the_metrics(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(breaker_failures=1, breaker_cooldown_s=SHORT_COOLDOWN_S)
    fake.enqueue(server_error())

    messages(server)
    opened = breaker_gauge(server, "anthropic")
    wait_until(lambda: breakers(server)["anthropic"] == "half_open")
    half_open = breaker_gauge(server, "anthropic")
    messages(server)
    closed = breaker_gauge(server, "anthropic")

    assert [opened, half_open, closed] == [BreakerGauge.OPEN, BreakerGauge.HALF_OPEN, BreakerGauge.CLOSED]


def test_a_route_fallback_serves_while_the_primary_is_open(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    config = LuthienConfig(
        upstreams={
            "primary": UpstreamConfig(
                format=UpstreamApi.ANTHROPIC, base_url=f"http://127.0.0.1:{free_port()}"
            )
        },
        routes=[RouteConfig(model="claude-*", upstream="primary", fallback="anthropic")],
    )
    server = make_luthien(config=config, breaker_failures=1, breaker_cooldown_s=NEVER_S)
    fake.enqueue(JSONReply(anthropic_message("from the fallback")))

    failed = messages(server)
    served = messages(server)

    assert failed.status_code == 502
    assert served.status_code == 200
    assert served.json()["content"][0]["text"] == "from the fallback"
    assert len(fake.requests) == 1
    assert breakers(server) == {"anthropic": "closed", "openai": "closed", "primary": "open"}
    assert ready(server).json()["status"] == "degraded"


@pytest.mark.asyncio
async def test_judge_calls_feed_and_respect_the_breaker(fake: FakeProvider) -> None:
    settings = Settings(anthropic_base_url=fake.base_url)
    router = Router(LuthienConfig().with_builtins(settings))
    client = UpstreamClient(settings)
    await client.start()
    breakers_ = Breakers(client, failures=2, cooldown_s=NEVER_S)
    caller = ModelCaller(router, breakers_)
    fake.enqueue(server_error(), server_error())
    try:
        failures: list[int | None] = []
        for _ in range(2):
            with pytest.raises(ModelCallError) as failed:
                await caller.complete("anthropic", "judge-model", "judge", "is this safe?", 16)
            failures.append(failed.value.status)
        with pytest.raises(ModelCallError) as refused:
            await caller.complete("anthropic", "judge-model", "judge", "is this safe?", 16)
    finally:
        await client.close()

    assert failures == [500, 500]
    assert refused.value.status is None
    assert breakers_.of("anthropic").state is BreakerState.OPEN
    assert len(fake.requests) == 2
