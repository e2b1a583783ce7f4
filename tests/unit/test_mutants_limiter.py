"""`RateLimiter` without a server: identities, which limit counts what, the budget's edges, the headers.

The end-to-end tests (`tests/e2e/test_rate_limits.py`) cover the 429 answers through a real server;
these pin the limiter's own decisions on in-memory counters, so a mutant of `ratelimit/limiter.py`
fails a fast test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from limits import RateLimitItemPerDay
from pydantic import SecretStr

from luthien.ratelimit.backend import LimiterBackend, Strategies
from luthien.ratelimit.items import parse_limits
from luthien.ratelimit.limiter import Admission, RateLimitedError, RateLimiter, client_identity, open_limiter
from luthien.records.model import Usage
from luthien.settings import Settings
from luthien.wire.errors import ErrorKind
from luthien.wire.formats import WireFormat

MODEL = "claude-sonnet-4-6"
REDIS_URL = "redis://127.0.0.1:6379/0"
HALF_A_DAY_H = 12


def limiter(client_limits: str = "", budget: int | None = None) -> RateLimiter:
    backend = LimiterBackend(None, "test-limiter")
    return RateLimiter(backend, parse_limits(client_limits) if client_limits else [], budget)


def header(headers: tuple[tuple[bytes, bytes], ...], name: bytes) -> str:
    [value] = [value for key, value in headers if key == name]
    return value.decode("ascii")


# --- who a call counts against -------------------------------------------------------------------


def test_an_api_key_is_hashed_into_the_identity() -> None:
    identity = client_identity([("x-api-key", "sk-ant-one")], {"client": ("203.0.113.9", 5555)})
    assert identity == "key:ab3f1693fe6ca618164d897b1b25dfe2"


def test_a_bearer_token_counts_as_a_credential_and_the_first_one_wins() -> None:
    headers = [("authorization", "Bearer oauth-token-7"), ("x-api-key", "sk-ant-one")]
    assert (
        client_identity(headers, {"client": ("203.0.113.9", 5555)}) == "key:756267e3717747d5e4fd6e8313b7e55f"
    )


def test_without_a_credential_the_address_is_the_identity() -> None:
    assert client_identity([("accept", "*/*")], {"client": ("203.0.113.9", 5555)}) == "ip:203.0.113.9"
    assert client_identity([], {"client": None}) == "ip:unknown"
    assert client_identity([], {}) == "ip:unknown"


# --- what counts ------------------------------------------------------------------------------------


def test_whether_clients_are_counted() -> None:
    assert limiter().counts_clients is False
    assert limiter("5/minute").counts_clients is True
    assert limiter(budget=100).counts_clients is True
    assert limiter(budget=0).counts_clients is True


@pytest.mark.asyncio
async def test_without_any_limit_every_call_is_admitted_without_headers() -> None:
    free = limiter()
    for _ in range(3):
        assert await free.admit("ip:a", MODEL, [], WireFormat.ANTHROPIC) == Admission("ip:a", ())


@pytest.mark.asyncio
async def test_a_model_limit_needs_a_model() -> None:
    free = limiter()
    one = parse_limits("1/minute")
    for _ in range(3):
        assert await free.admit("ip:a", None, one, WireFormat.ANTHROPIC) == Admission("ip:a", ())


@pytest.mark.asyncio
async def test_a_model_limit_counts_every_client_of_that_model_together() -> None:
    limited = limiter()
    one = parse_limits("1/minute")
    admitted = await limited.admit("ip:a", MODEL, one, WireFormat.ANTHROPIC)
    assert admitted == Admission("ip:a", ())  # no per-client limit: no headers
    with pytest.raises(RateLimitedError) as refused:
        await limited.admit("ip:b", MODEL, one, WireFormat.OPENAI)
    assert refused.value.kind is ErrorKind.RATE_LIMITED
    assert header(refused.value.headers, b"x-ratelimit-limit-requests") == "1"
    assert header(refused.value.headers, b"x-ratelimit-remaining-requests") == "0"
    assert 1 <= int(header(refused.value.headers, b"retry-after")) <= 60
    # Another model has its own count.
    assert await limited.admit("ip:b", "gpt-5", one, WireFormat.OPENAI) == Admission("ip:b", ())


@pytest.mark.asyncio
async def test_a_client_limit_counts_each_client_on_its_own() -> None:
    limited = limiter("2/minute")
    first = await limited.admit("ip:a", MODEL, [], WireFormat.ANTHROPIC)
    assert header(first.headers, b"anthropic-ratelimit-requests-limit") == "2"
    assert header(first.headers, b"anthropic-ratelimit-requests-remaining") == "1"
    second = await limited.admit("ip:a", None, [], WireFormat.ANTHROPIC)
    assert header(second.headers, b"anthropic-ratelimit-requests-remaining") == "0"
    with pytest.raises(RateLimitedError) as refused:
        await limited.admit("ip:a", MODEL, [], WireFormat.ANTHROPIC)
    assert refused.value.kind is ErrorKind.RATE_LIMITED
    assert isinstance(refused.value.message, str)
    assert refused.value.message
    assert [name for name, _ in refused.value.headers] == [
        b"retry-after",
        b"anthropic-ratelimit-requests-limit",
        b"anthropic-ratelimit-requests-remaining",
        b"anthropic-ratelimit-requests-reset",
    ]
    other = await limited.admit("ip:b", MODEL, [], WireFormat.ANTHROPIC)
    assert header(other.headers, b"anthropic-ratelimit-requests-remaining") == "1"


@pytest.mark.asyncio
@pytest.mark.parametrize("limits", ["5/minute;2/hour", "2/hour;5/minute"])
async def test_the_headers_are_the_tightest_client_limits(limits: str) -> None:
    admitted = await limiter(limits).admit("ip:a", MODEL, [], WireFormat.OPENAI)
    assert header(admitted.headers, b"x-ratelimit-limit-requests") == "2"
    assert header(admitted.headers, b"x-ratelimit-remaining-requests") == "1"
    assert "h" in header(admitted.headers, b"x-ratelimit-reset-requests")


@pytest.mark.asyncio
async def test_of_two_equally_tight_limits_the_first_one_gives_the_headers() -> None:
    admitted = await limiter("3/minute;3/hour").admit("ip:a", MODEL, [], WireFormat.OPENAI)
    assert header(admitted.headers, b"x-ratelimit-remaining-requests") == "2"
    assert "h" not in header(admitted.headers, b"x-ratelimit-reset-requests")


@pytest.mark.asyncio
async def test_a_client_limit_and_a_model_limit_both_count() -> None:
    limited = limiter("5/minute")
    one = parse_limits("1/minute")
    admitted = await limited.admit("ip:a", MODEL, one, WireFormat.ANTHROPIC)
    assert header(admitted.headers, b"anthropic-ratelimit-requests-limit") == "5"
    with pytest.raises(RateLimitedError) as refused:
        await limited.admit("ip:a", MODEL, one, WireFormat.ANTHROPIC)
    assert header(refused.value.headers, b"anthropic-ratelimit-requests-limit") == "1"


# --- the daily token budget ---------------------------------------------------------------------


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local time zone whose date differs from UTC's right now (the limiter must not read it)."""
    behind = datetime.now(UTC).hour < HALF_A_DAY_H
    monkeypatch.setenv("TZ", "LOC+12" if behind else "LOC-14")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.asyncio
async def test_spent_tokens_are_counted_per_client_per_utc_day(far_from_utc: None) -> None:
    budgeted = limiter(budget=1000)
    await budgeted.spend("ip:a", Usage(input_tokens=60, output_tokens=50))
    await budgeted.spend("ip:a", Usage(input_tokens=None, output_tokens=5))
    await budgeted.spend("ip:a", Usage(input_tokens=7))
    await budgeted.spend("ip:a", Usage())
    assert await budgeted.tokens_used_today("ip:a") == 122
    assert await budgeted.tokens_used_today("ip:b") == 0

    async def stored(strategies: Strategies) -> int:
        return await strategies.storage.get(RateLimitItemPerDay(1000).key_for("ip:a", _today()))

    assert await budgeted.backend.run(stored) == 122


@pytest.mark.asyncio
async def test_without_a_budget_nothing_is_spent() -> None:
    free = limiter()
    await free.spend("ip:a", Usage(input_tokens=60, output_tokens=50))
    assert await free.tokens_used_today("ip:a") == 0


@pytest.mark.asyncio
async def test_the_call_that_reaches_the_budget_is_the_last_one_admitted(far_from_utc: None) -> None:
    budgeted = limiter(budget=100)
    await budgeted.spend("ip:a", Usage(input_tokens=90, output_tokens=9))
    assert await budgeted.admit("ip:a", MODEL, [], WireFormat.ANTHROPIC) == Admission("ip:a", ())
    await budgeted.spend("ip:a", Usage(output_tokens=1))
    with pytest.raises(RateLimitedError) as refused:
        await budgeted.admit("ip:a", MODEL, [], WireFormat.ANTHROPIC)
    assert refused.value.kind is ErrorKind.TOKEN_BUDGET_EXCEEDED
    midnight = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    headers = refused.value.headers
    assert header(headers, b"anthropic-ratelimit-tokens-limit") == "100"
    assert header(headers, b"anthropic-ratelimit-tokens-remaining") == "0"
    assert header(headers, b"anthropic-ratelimit-tokens-reset") == midnight
    assert 1 <= int(header(headers, b"retry-after")) <= 86_400
    assert isinstance(refused.value.message, str)
    assert refused.value.message
    # Another client has its own budget.
    assert await budgeted.admit("ip:b", MODEL, [], WireFormat.ANTHROPIC) == Admission("ip:b", ())


@pytest.mark.asyncio
async def test_a_budget_of_zero_refuses_the_first_call() -> None:
    with pytest.raises(RateLimitedError) as refused:
        await limiter(budget=0).admit("ip:a", MODEL, [], WireFormat.OPENAI)
    assert refused.value.kind is ErrorKind.TOKEN_BUDGET_EXCEEDED
    assert header(refused.value.headers, b"x-ratelimit-limit-tokens") == "0"


# --- from settings ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_open_limiter_reads_the_settings() -> None:
    plain = open_limiter(Settings())
    assert plain.counts_clients is False
    assert plain.backend.configured == "memory"
    limited = open_limiter(Settings(rate_limit="1/minute", daily_token_budget=50))
    assert limited.counts_clients is True
    await limited.admit("ip:a", MODEL, [], WireFormat.ANTHROPIC)
    with pytest.raises(RateLimitedError) as refused:
        await limited.admit("ip:a", MODEL, [], WireFormat.ANTHROPIC)
    assert refused.value.kind is ErrorKind.RATE_LIMITED
    await limited.spend("ip:b", Usage(input_tokens=50))
    assert await limited.tokens_used_today("ip:b") == 50
    shared = open_limiter(Settings(redis_url=SecretStr("redis://127.0.0.1:6379/0")))
    assert shared.backend.configured == "redis"
    await shared.backend.close()


@pytest.mark.asyncio
async def test_open_limiter_writes_redis_keys_under_the_configured_prefix() -> None:
    prefix = f"luthien-test-limiter-{uuid.uuid4().hex}"
    shared = open_limiter(
        Settings(redis_url=SecretStr(REDIS_URL), rate_limit="5/minute", rate_limit_key_prefix=prefix)
    )
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await shared.admit("ip:a", MODEL, parse_limits("3/minute"), WireFormat.ANTHROPIC)
        # Counters keep their names across versions: a renamed key would reset every client's count.
        keys = [key.decode() for key in client.keys(f"{prefix}*")]
        assert any("/client/ip:a/" in key for key in keys)
        assert any(f"/model/{MODEL}/" in key for key in keys)
    finally:
        await shared.backend.close()
        for key in client.keys(f"{prefix}*"):
            client.delete(key)
        client.close()
