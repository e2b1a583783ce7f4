"""Rate limits per client key and per model, and daily token budgets, through a real server.

Refusals are 429s in the client's own error shape, read by the official SDKs, with `Retry-After` and
the provider's rate-limit headers; refused calls never reach the upstream. Counters shared through
Redis use a private `redis-server` (tests/redis_server.py): one test starts it only after the
servers came up pointing at its port, to see the memory fallback hold the limits and the switch
back once Redis answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from luthien.config import LuthienConfig, RouteConfig
from luthien.ratelimit.limiter import client_identity
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, StreamReply, anthropic_stream, chat_completion
from tests.support.polling import wait_until
from tests.support.records import GUARD_S
from tests.support.redis_server import RedisServer
from tests.support.servers import LuthienServer

MESSAGES_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}
CHAT_BODY: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
CALL_USAGE = {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}
CALL_TOKENS = 30 + 10


def messages(
    server: LuthienServer, key: str | None = "client-key-a", model: str | None = None
) -> httpx.Response:
    headers = {"anthropic-version": "2023-06-01"} | ({"x-api-key": key} if key is not None else {})
    body = MESSAGES_BODY | ({"model": model} if model is not None else {})
    return httpx.post(f"{server.base_url}/v1/messages", json=body, headers=headers, timeout=GUARD_S)


def anthropic_client(server: LuthienServer, key: str = "client-key-a") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key=key, max_retries=0)


def openai_client(server: LuthienServer, key: str = "client-key-a") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def test_a_client_past_its_limit_gets_an_anthropic_429_and_the_upstream_never_sees_it(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(rate_limit="2/minute;100/hour")
    client = anthropic_client(server)

    first = client.messages.with_raw_response.create(**MESSAGES_BODY)
    second = client.messages.with_raw_response.create(**MESSAGES_BODY)
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(**MESSAGES_BODY)

    # The tightest limit is reported, in place of the upstream's own request-limit headers.
    assert first.headers.get_list("anthropic-ratelimit-requests-limit") == ["2"]
    assert first.headers["anthropic-ratelimit-requests-remaining"] == "1"
    assert second.headers["anthropic-ratelimit-requests-remaining"] == "0"
    response = refused.value.response
    assert response.status_code == 429
    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"]["type"] == "rate_limit_error"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["anthropic-ratelimit-requests-limit"] == "2"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert response.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert len(fake.requests) == 2


def test_openai_clients_get_their_own_429_shape_and_headers(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(rate_limit="1/minute")
    client = openai_client(server)

    admitted = client.chat.completions.with_raw_response.create(**CHAT_BODY)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**CHAT_BODY)

    assert admitted.headers.get_list("x-ratelimit-limit-requests") == ["1"]
    assert admitted.headers["x-ratelimit-remaining-requests"] == "0"
    error = refused.value
    assert error.status_code == 429
    assert error.type == "requests"
    assert error.code == "rate_limit_exceeded"
    assert error.response.headers["x-ratelimit-limit-requests"] == "1"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.response.headers["x-ratelimit-reset-requests"].endswith("s")
    assert int(error.response.headers["retry-after"]) >= 1
    assert len(fake.requests) == 1


def test_each_key_has_its_own_count_and_keyless_clients_count_by_address(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(rate_limit="1/minute")

    statuses = [
        messages(server, "client-key-a").status_code,
        messages(server, "client-key-b").status_code,
        messages(server, "client-key-a").status_code,
        messages(server, None).status_code,
        messages(server, None).status_code,
    ]

    assert statuses == [200, 200, 429, 200, 429]


def test_the_proxy_key_is_counted_hashed_never_stored_raw(
    make_luthien: LuthienFactory, fake: FakeProvider, redis_server: RedisServer
) -> None:
    server = make_luthien(api_key="proxy-key-secret-1234", rate_limit="5/minute", redis_url=redis_server.url)

    assert messages(server, "proxy-key-secret-1234").status_code == 200

    keys = redis_server.keys("luthien:ratelimit*")
    assert keys, "the limit is counted in Redis"
    assert not any(b"proxy-key-secret-1234" in key for key in keys)


def test_a_per_model_limit_is_shared_by_every_client_and_spares_other_models(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    config = LuthienConfig(
        routes=[RouteConfig(model="claude-opus-*", upstream="anthropic", rate_limit="1/minute")]
    )
    server = make_luthien(config=config)

    first = messages(server, "client-key-a", model="claude-opus-4-1")
    other_client = messages(server, "client-key-b", model="claude-opus-4-1")
    other_model = messages(server, "client-key-b", model="claude-sonnet-4-6")

    assert first.status_code == 200
    assert other_client.status_code == 429
    assert other_client.json()["error"]["type"] == "rate_limit_error"
    assert other_model.status_code == 200
    assert len(fake.requests) == 2


def test_a_key_past_its_daily_token_budget_is_refused_until_midnight(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(daily_token_budget=CALL_TOKENS + 1)
    limiter = server.app.state.gateway.limiter
    client = openai_client(server)
    identity = client_identity([("authorization", "Bearer client-key-a")], {"type": "http"})

    fake.enqueue(*(JSONReply(chat_completion(usage=CALL_USAGE)) for _ in range(3)))
    client.chat.completions.create(**CHAT_BODY)
    client.chat.completions.create(**CHAT_BODY)  # still under the budget when it arrives

    # The second call's usage is counted once its record is made, after the client has its answer.
    wait_until(lambda: server.run(limiter.tokens_used_today(identity), GUARD_S) == 2 * CALL_TOKENS)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**CHAT_BODY)
    other_key = openai_client(server, "client-key-b").chat.completions.with_raw_response.create(**CHAT_BODY)

    error = refused.value
    assert error.type == "tokens"
    assert error.code == "rate_limit_exceeded"
    assert error.response.headers["x-ratelimit-limit-tokens"] == str(CALL_TOKENS + 1)
    assert error.response.headers["x-ratelimit-remaining-tokens"] == "0"
    retry_after = int(error.response.headers["retry-after"])
    assert 1 <= retry_after <= 24 * 3600
    assert other_key.http_response.status_code == 200
    assert len(fake.requests) == 3


def test_a_streamed_calls_usage_counts_against_the_budget(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(daily_token_budget=100)
    limiter = server.app.state.gateway.limiter
    identity = client_identity([("x-api-key", "client-key-a")], {"type": "http"})
    client = anthropic_client(server)
    fake.enqueue(
        StreamReply(anthropic_stream("a long answer", usage={"input_tokens": 60, "output_tokens": 50}))
    )

    with client.messages.stream(**MESSAGES_BODY) as stream:
        text = stream.get_final_text()
    wait_until(lambda: server.run(limiter.tokens_used_today(identity), GUARD_S) == 110)
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(**MESSAGES_BODY)

    assert text == "a long answer"
    assert refused.value.response.headers["anthropic-ratelimit-tokens-limit"] == "100"
    assert refused.value.response.headers["anthropic-ratelimit-tokens-remaining"] == "0"
    assert len(fake.requests) == 1


def test_replicas_share_limits_through_redis(
    make_luthien: LuthienFactory, fake: FakeProvider, redis_server: RedisServer
) -> None:
    first = make_luthien(rate_limit="2/minute", redis_url=redis_server.url)
    second = make_luthien(rate_limit="2/minute", redis_url=redis_server.url)

    statuses = [messages(first).status_code, messages(second).status_code, messages(first).status_code]

    assert statuses == [200, 200, 429]
    assert first.run(first.app.state.gateway.limiter.backend.check(), GUARD_S)


def test_with_redis_away_limits_hold_in_memory_and_redis_is_used_again_when_it_returns(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    redis_server = RedisServer()  # its port is free: nothing listens until it is started
    first = make_luthien(rate_limit="1/minute", redis_url=redis_server.url)
    second = make_luthien(rate_limit="1/minute", redis_url=redis_server.url)
    try:
        away = httpx.get(f"{first.base_url}/ready", timeout=GUARD_S)
        during = [messages(first).status_code, messages(first).status_code]
        # Each replica counts on its own while Redis is away.
        other_replica = messages(second).status_code

        redis_server.start()
        wait_until(lambda: _rate_limiter_check(first)["status"] == "ok")
        back = _rate_limiter_check(second)
        shared = [messages(first, "client-key-c").status_code, messages(second, "client-key-c").status_code]
    finally:
        redis_server.stop()

    assert away.status_code == 200
    assert away.json()["status"] == "degraded"
    assert away.json()["checks"]["rate_limiter"] == {
        "status": "unavailable",
        "backend": "redis",
        "fallback": "memory",
    }
    assert during == [200, 429]
    assert other_replica == 200
    assert back == {"status": "ok", "backend": "redis"}
    assert shared == [200, 429]


def test_a_redis_that_stops_and_starts_again_mid_run(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    redis_server = RedisServer().start()
    server = make_luthien(rate_limit="2/minute", redis_url=redis_server.url)
    try:
        before = messages(server, "client-key-d").status_code
        redis_server.stop()
        away = _rate_limiter_check(server)
        # This replica's memory starts counting afresh: two more calls, then the limit holds.
        during = [messages(server, "client-key-d").status_code for _ in range(3)]
        redis_server.start()
        wait_until(lambda: _rate_limiter_check(server)["status"] == "ok")
        after = messages(server, "client-key-e").status_code
        counted_in_redis = redis_server.keys("luthien:ratelimit*")
    finally:
        redis_server.stop()

    assert before == 200
    assert away == {"status": "unavailable", "backend": "redis", "fallback": "memory"}
    assert during == [200, 200, 429]
    assert after == 200
    assert counted_in_redis  # the restarted Redis (empty, no persistence) holds counters again


def test_ready_reports_the_limiter_only_when_limits_are_set(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    unlimited = make_luthien()
    limited = make_luthien(rate_limit="10/second")

    assert _rate_limiter_check(unlimited) == {"status": "off"}
    assert _rate_limiter_check(limited) == {"status": "ok", "backend": "memory"}


def test_token_counting_is_not_rate_limited(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(rate_limit="1/minute")
    client = anthropic_client(server)

    counts = [
        client.messages.count_tokens(**{k: MESSAGES_BODY[k] for k in ("model", "messages")}) for _ in "ab"
    ]
    admitted = client.messages.with_raw_response.create(**MESSAGES_BODY)

    assert all(count.input_tokens > 0 for count in counts)
    assert admitted.http_response.status_code == 200


def _rate_limiter_check(server: LuthienServer) -> dict[str, Any]:
    check: dict[str, Any] = httpx.get(f"{server.base_url}/ready", timeout=GUARD_S).json()["checks"][
        "rate_limiter"
    ]
    return check
