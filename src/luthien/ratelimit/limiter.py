"""`RateLimiter`: admits or refuses each model call, and counts the tokens each call used.

Three kinds of limit, each optional:

- **per client** (`LUTHIEN_RATE_LIMIT`, e.g. `60/minute;1000/hour`): requests per moving window,
  counted per client identity (`client_identity`);
- **per model** (the config's `routes[].rate_limit`): requests per moving window to each model
  matching the route, every client together;
- **daily token budget** (`LUTHIEN_DAILY_TOKEN_BUDGET`): input plus output tokens per client
  identity per UTC day, from the usage the upstream reported. A call is admitted while the day's
  count is below the budget (the call that crosses it completes); later calls get 429 until
  midnight UTC.

A refused call is answered 429 in the client's shape with `Retry-After` and the provider-style
headers of the limit that refused it. An admitted call's answer carries the request-limit headers of
the client's tightest per-client limit. Counters live in `LimiterBackend` (memory, or Redis).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from limits import RateLimitItem, RateLimitItemPerDay
from starlette.types import Scope

from luthien.gateway.auth import presented_keys
from luthien.ratelimit.backend import LimiterBackend, Strategies
from luthien.ratelimit.headers import Counted, LimitState, limit_headers, retry_after
from luthien.ratelimit.items import parse_limits
from luthien.records.model import Usage
from luthien.settings import Settings
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.formats import WireFormat

IDENTITY_HASH_HEX_CHARS = 32
"""How much of a credential's SHA-256 names its client in counters (128 bits)."""
ANONYMOUS_HOST = "unknown"
"""The identity's host part when the server does not know the client's address."""


def client_identity(headers: list[tuple[str, str]], scope: Scope) -> str:
    """Who a call counts against: the credential the client presented, hashed, or its address.

    The proxy key, a provider API key and an OAuth token all count as a credential (the first one
    presented). The raw credential is never stored: counters are keyed by a SHA-256 prefix.
    """
    keys = presented_keys(headers)
    if keys:
        digest = hashlib.sha256(keys[0].encode("utf-8")).hexdigest()[:IDENTITY_HASH_HEX_CHARS]
        return f"key:{digest}"
    client = scope.get("client")
    host = client[0] if client else ANONYMOUS_HOST
    return f"ip:{host}"


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted call: who it counts against, and the headers its answer carries."""

    identity: str
    headers: tuple[tuple[bytes, bytes], ...] = field(default=())


class RateLimitedError(GatewayError):
    """A call refused by a rate limit or the token budget (429, with `Retry-After`)."""


class RateLimiter:
    """The limits of one server, counted in its `LimiterBackend`."""

    def __init__(
        self,
        backend: LimiterBackend,
        client_limits: Sequence[RateLimitItem],
        daily_token_budget: int | None,
    ) -> None:
        """Create the limiter.

        Args:
            backend: where counters live.
            client_limits: requests per window per client identity (none: no such limit).
            daily_token_budget: tokens per client identity per UTC day (None: no budget).
        """
        self.backend = backend
        self._client_limits = list(client_limits)
        self._budget = RateLimitItemPerDay(daily_token_budget) if daily_token_budget is not None else None

    @property
    def counts_clients(self) -> bool:
        """Whether any per-client limit or budget is set (per-model limits may be set without)."""
        return bool(self._client_limits) or self._budget is not None

    async def admit(
        self,
        identity: str,
        model: str | None,
        model_limits: Sequence[RateLimitItem],
        wire_format: WireFormat,
    ) -> Admission:
        """Count one call against every limit that applies, or refuse it.

        Args:
            identity: the client's identity (`client_identity`).
            model: the model the client asked for (None: no per-model limit applies).
            model_limits: the limits of the route `model` matched.
            wire_format: the client's API, for the headers' names.

        Raises:
            RateLimitedError: a limit is used up; its headers say which and until when.
        """
        if not self._client_limits and self._budget is None and not (model and model_limits):
            return Admission(identity)
        return await self.backend.run(
            lambda strategies: self._admit(strategies, identity, model, model_limits, wire_format)
        )

    async def _admit(
        self,
        strategies: Strategies,
        identity: str,
        model: str | None,
        model_limits: Sequence[RateLimitItem],
        wire_format: WireFormat,
    ) -> Admission:
        now = time.time()
        if self._budget is not None:
            await self._check_budget(strategies, identity, wire_format, now)
        tightest: LimitState | None = None
        for item in self._client_limits:
            state = await self._hit(strategies, item, ("client", identity), wire_format, now)
            if tightest is None or state.remaining < tightest.remaining:
                tightest = state
        if model:
            for item in model_limits:
                await self._hit(strategies, item, ("model", model), wire_format, now)
        headers = limit_headers(wire_format, tightest, now) if tightest is not None else []
        return Admission(identity, tuple(headers))

    async def _hit(
        self,
        strategies: Strategies,
        item: RateLimitItem,
        identifiers: tuple[str, str],
        wire_format: WireFormat,
        now: float,
    ) -> LimitState:
        admitted = await strategies.window.hit(item, *identifiers)
        stats = await strategies.window.get_window_stats(item, *identifiers)
        state = LimitState(Counted.REQUESTS, item.amount, stats.remaining, stats.reset_time)
        if not admitted:
            kind, whose = identifiers
            scope = "this API key" if kind == "client" else f"model {whose!r}"
            raise RateLimitedError(
                ErrorKind.RATE_LIMITED,
                f"rate limit exceeded: {item.amount} requests per {_period(item)} for {scope}",
                (retry_after(state.reset_at, now), *limit_headers(wire_format, state, now)),
            )
        return state

    async def _check_budget(
        self, strategies: Strategies, identity: str, wire_format: WireFormat, now: float
    ) -> None:
        budget = self._budget
        assert budget is not None
        if await strategies.daily.test(budget, identity, _utc_day(now)):
            return
        state = LimitState(Counted.TOKENS, budget.amount, 0, _next_utc_midnight(now))
        raise RateLimitedError(
            ErrorKind.TOKEN_BUDGET_EXCEEDED,
            f"daily token budget of {budget.amount} tokens used up for this API key; it renews at 00:00 UTC",
            (retry_after(state.reset_at, now), *limit_headers(wire_format, state, now)),
        )

    async def spend(self, identity: str, usage: Usage) -> None:
        """Add a finished call's input and output tokens to its client's budget for today."""
        budget = self._budget
        tokens = (usage.input_tokens or 0) + (usage.output_tokens or 0)
        if budget is None or tokens <= 0:
            return
        day = _utc_day(time.time())

        async def add(strategies: Strategies) -> None:
            await strategies.daily.hit(budget, identity, day, cost=tokens)

        await self.backend.run(add)

    async def tokens_used_today(self, identity: str) -> int:
        """Tokens counted against `identity` today, past the budget included (0 without a budget)."""
        budget = self._budget
        if budget is None:
            return 0
        key = budget.key_for(identity, _utc_day(time.time()))

        async def read(strategies: Strategies) -> int:
            return await strategies.storage.get(key)

        return await self.backend.run(read)


def _period(item: RateLimitItem) -> str:
    granularity = item.GRANULARITY.name
    return granularity if item.multiples == 1 else f"{item.multiples} {granularity}s"


def _utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def _next_utc_midnight(now: float) -> float:
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today + timedelta(days=1)).timestamp()


def open_limiter(settings: Settings) -> RateLimiter:
    """The limiter `settings` ask for: counters in Redis with `LUTHIEN_REDIS_URL`, else in memory."""
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    backend = LimiterBackend(redis_url, settings.rate_limit_key_prefix)
    client_limits = parse_limits(settings.rate_limit) if settings.rate_limit else []
    return RateLimiter(backend, client_limits, settings.daily_token_budget)
