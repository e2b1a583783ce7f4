"""Where rate-limit counters live: Redis (shared by replicas) with a per-replica memory fallback.

Without `LUTHIEN_REDIS_URL` counters are in memory (the `limits` library's async memory storage);
in a worker of a multi-process `luthien serve`, in the parent's memory (`RelayStorage`), so the
workers count every limit once, with this worker's memory as the fallback as for Redis.
With it, they are in Redis (`limits`' async Redis storage over redis-py), so every replica counts
against the same limits. When Redis fails (refused, timed out, any Redis error) the operation is
repeated on the memory storage at once: limits still hold, per replica, and `/ready` reports the
rate limiter as unavailable. Redis is tried again at most every `REDIS_RETRY_S` by calls, and by
every `/ready` probe; the first success switches back. Counts made in memory during an outage stay
there (they are not copied into Redis).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from luthien.events.relay_wire import relay_path
from luthien.ratelimit.relay_storage import RelayStorage

logger = logging.getLogger("luthien.ratelimit")

T = TypeVar("T")

REDIS_TIMEOUT_S = 1.0
"""How long one limiter operation may wait for Redis before the memory fallback answers."""
REDIS_RETRY_S = 1.0
"""While Redis is down, calls try it again at most this often (each failed try costs a call time)."""
_REDIS_FAILURES = (StorageError, RedisError, OSError, TimeoutError)


class Strategies:
    """The two `limits` strategies over one storage.

    Attributes:
        window: moving windows, for requests per minute/hour/...
        daily: fixed windows, for token budgets (the key names the day).
    """

    def __init__(self, storage: MemoryStorage | RedisStorage | RelayStorage) -> None:
        self.storage = storage
        self.window = MovingWindowRateLimiter(storage)
        self.daily = FixedWindowRateLimiter(storage)


class LimiterBackend:
    """Runs limiter operations on Redis when it is configured and answering, else in memory."""

    def __init__(self, redis_url: str | None, key_prefix: str) -> None:
        """Create the storages (no connection is made until the first operation).

        Args:
            redis_url: `redis://host:port/db` (or `rediss://`, `unix://`); None for memory only.
            key_prefix: the prefix of every key the limiter writes in Redis.
        """
        self._memory = Strategies(MemoryStorage())
        # The shared storage: Redis, or the parent's memory for the workers of one `luthien serve`.
        self._redis: Strategies | None = None
        self._shared_name = "Redis"
        self._pool: aioredis.ConnectionPool | None = None
        if redis_url is not None:
            self._pool = aioredis.ConnectionPool.from_url(  # pyright: ignore[reportUnknownMemberType]
                redis_url,
                socket_connect_timeout=REDIS_TIMEOUT_S,
                socket_timeout=REDIS_TIMEOUT_S,
                # One immediate retry, for pooled connections a restarted Redis has forgotten.
                retry=Retry(NoBackoff(), 1),
            )
            options: dict[str, Any] = {"connection_pool": self._pool}
            storage = RedisStorage(
                f"async+{redis_url}",
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=key_prefix,
                **options,
            )
            self._redis = Strategies(storage)
        else:
            relay = relay_path()
            if relay is not None:
                self._redis = Strategies(RelayStorage(relay))
                self._shared_name = "the workers' parent"
        self._redis_up = self._redis is not None
        self._retry_at = 0.0

    @property
    def configured(self) -> str:
        """`redis`, `workers` (the parent's memory) or `memory`: where counters are meant to live."""
        if self._redis is None:
            return "memory"
        return "workers" if isinstance(self._redis.storage, RelayStorage) else "redis"

    async def run(self, operation: Callable[[Strategies], Awaitable[T]]) -> T:
        """Run `operation` on Redis if it is usable, else (or when it fails) on memory."""
        redis = self._redis
        if redis is not None and (self._redis_up or time.monotonic() >= self._retry_at):
            try:
                result = await asyncio.wait_for(operation(redis), REDIS_TIMEOUT_S)
            except _REDIS_FAILURES as error:
                self._mark_down(error)
            else:
                self._mark_up()
                return result
        return await operation(self._memory)

    async def check(self) -> bool:
        """Ping Redis now (for `/ready`); True when it answered or none is configured."""
        if self._redis is None:
            return True
        try:
            answered = await asyncio.wait_for(self._redis.storage.check(), REDIS_TIMEOUT_S)
        except _REDIS_FAILURES as error:
            self._mark_down(error)
            return False
        if answered:
            self._mark_up()
        else:
            self._mark_down(None)
        return answered

    def _mark_up(self) -> None:
        if not self._redis_up:
            logger.info("rate limits: %s answers again; counting there", self._shared_name)
        self._redis_up = True

    def _mark_down(self, error: BaseException | None) -> None:
        if self._redis_up:
            # The error's type only: its text can hold the URL, password included.
            logger.warning(
                "rate limits: %s unreachable (%s); counting in this process's memory until it returns",
                self._shared_name,
                type(error).__name__ if error is not None else "no answer",
            )
        self._redis_up = False
        self._retry_at = time.monotonic() + REDIS_RETRY_S

    async def close(self) -> None:
        """Close the Redis connections, if any."""
        if self._pool is not None:
            await self._pool.aclose()
        if self._redis is not None and isinstance(self._redis.storage, RelayStorage):
            await self._redis.storage.close()
