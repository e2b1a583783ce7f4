"""Circuit breakers, one per upstream: stop sending calls to an upstream that keeps failing.

A breaker is a small state machine (`BreakerState`, transitions in `TRANSITIONS`):

- `closed`: calls go through. Each failure (a 5xx answer, a connection error, a timeout before the
  answer's headers) adds to a count of consecutive failures; any other answer resets it. Upstream
  429s and other 4xx answers are the upstream working as designed: they count as successes.
  `failures` consecutive failures open the breaker.
- `open`: calls fail fast (`CircuitOpenError`, answered 503 in the client's shape) without reaching
  the upstream, until `cooldown_s` has passed since it opened; then the next call finds it half-open.
- `half_open`: one trial call goes through while every other call fails fast. The trial's success
  closes the breaker; its failure opens it again for another cool-down. A trial that ends without an
  outcome (the client left) frees the slot for the next call.

Only the answer's status (or a failure before it) is judged: a stream cut after a 200 has begun
does not count, as the upstream did answer. `Breakers.request` wraps `UpstreamClient.request` with
this bookkeeping, for the proxy and for Luthien's own calls (judges) alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum

from multidict import CIMultiDict

from luthien.upstream.client import UpstreamClient, UpstreamExchange
from luthien.upstream.routing import Upstream
from luthien.upstream.timeouts import UpstreamTimeouts
from luthien.wire.errors import ErrorKind, GatewayError

FIRST_SERVER_ERROR = 500
"""Statuses from here up are upstream failures; anything below is the upstream answering."""


class BreakerState(StrEnum):
    """Where a breaker is (see the module docstring)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerEvent(StrEnum):
    """What moves a breaker from one state to another."""

    FAILURE_LIMIT = "failure_limit"
    """The `failures`-th consecutive failure while closed."""
    COOLED_DOWN = "cooled_down"
    """`cooldown_s` passed while open; a call arrived."""
    TRIAL_SUCCEEDED = "trial_succeeded"
    TRIAL_FAILED = "trial_failed"


TRANSITIONS: dict[tuple[BreakerState, BreakerEvent], BreakerState] = {
    (BreakerState.CLOSED, BreakerEvent.FAILURE_LIMIT): BreakerState.OPEN,
    (BreakerState.OPEN, BreakerEvent.COOLED_DOWN): BreakerState.HALF_OPEN,
    (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_SUCCEEDED): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_FAILED): BreakerState.OPEN,
}
"""Every transition a breaker makes; any other (state, event) pair leaves the state as it is."""


StateListener = Callable[[str, BreakerState], None]
"""Told an upstream's name and its breaker's new state at each transition."""


class CircuitOpenError(GatewayError):
    """A call refused without being sent: the upstream's breaker is open (or half-open and busy)."""

    def __init__(self, upstream: str, retry_after_s: int) -> None:
        super().__init__(
            ErrorKind.UPSTREAM_CIRCUIT_OPEN,
            f"upstream {upstream!r} is failing; calls to it are paused (circuit breaker open)",
            ((b"retry-after", str(retry_after_s).encode("ascii")),),
        )
        self.upstream = upstream


class CircuitBreaker:
    """The breaker of one upstream. Not thread-safe: used from the server's one event loop."""

    def __init__(
        self,
        name: str,
        failures: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        """Create a closed breaker.

        Args:
            name: the upstream's name (for error messages and `/ready`).
            failures: consecutive failures that open it.
            cooldown_s: seconds it stays open before a trial call is let through.
            clock: monotonic seconds.
            on_change: told `(name, new state)` at each transition (the metrics gauge).
        """
        self.name = name
        self._on_change = on_change
        self._threshold = failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose cool-down has passed reads as half-open."""
        if self._state is BreakerState.OPEN and self._cooled_down():
            self._move(BreakerEvent.COOLED_DOWN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._consecutive_failures

    def allows(self) -> bool:
        """Whether a call now would be let through (without claiming the half-open trial)."""
        state = self.state
        return state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not self._trial_running)

    def admit(self) -> Attempt:
        """Let one call through, or refuse it.

        Raises:
            CircuitOpenError: open, or half-open with the trial call still running.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return Attempt(self, trial=False)
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return Attempt(self, trial=True)
        raise CircuitOpenError(self.name, self._retry_after_s())

    def _retry_after_s(self) -> int:
        """Whole seconds until a trial call may be let through (at least 1: a header's minimum)."""
        if self._state is BreakerState.OPEN:
            return max(1, math.ceil(self._opened_at + self._cooldown_s - self._clock()))
        return 1

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._cooldown_s

    def _move(self, event: BreakerEvent) -> None:
        # Calls admitted while closed can end after it opened: their failures change nothing then.
        target = TRANSITIONS.get((self._state, event))
        if target is None:
            return
        self._state = target
        if self._on_change is not None:
            self._on_change(self.name, target)
        if target is BreakerState.OPEN:
            self._opened_at = self._clock()
        elif target is BreakerState.CLOSED:
            self._consecutive_failures = 0

    def _succeeded(self, trial: bool) -> None:
        self._consecutive_failures = 0
        if trial:
            self._trial_running = False
            self._move(BreakerEvent.TRIAL_SUCCEEDED)

    def _failed(self, trial: bool) -> None:
        self._consecutive_failures += 1
        if trial:
            self._trial_running = False
            self._move(BreakerEvent.TRIAL_FAILED)
        elif self._consecutive_failures >= self._threshold:
            self._move(BreakerEvent.FAILURE_LIMIT)

    def _abandoned(self, trial: bool) -> None:
        if trial:
            self._trial_running = False


class Attempt:
    """One admitted call; its first reported outcome counts, later ones are ignored."""

    __slots__ = ("_breaker", "_reported", "_trial")

    def __init__(self, breaker: CircuitBreaker, trial: bool) -> None:
        self._breaker = breaker
        self._trial = trial
        self._reported = False

    def answered(self, status: int) -> None:
        """The upstream answered with `status` (5xx: a failure; anything else: a success)."""
        if status >= FIRST_SERVER_ERROR:
            self.failed()
        else:
            self._report(self._breaker._succeeded)  # pyright: ignore[reportPrivateUsage]

    def failed(self) -> None:
        """The upstream could not be reached or did not answer in time."""
        self._report(self._breaker._failed)  # pyright: ignore[reportPrivateUsage]

    def release(self) -> None:
        """The call is over; without an outcome (cancelled) a half-open trial slot is freed."""
        self._report(self._breaker._abandoned)  # pyright: ignore[reportPrivateUsage]

    def _report(self, outcome: Callable[[bool], None]) -> None:
        if not self._reported:
            self._reported = True
            outcome(self._trial)


class Breakers:
    """A breaker per upstream name, and upstream requests that go through them."""

    def __init__(
        self,
        client: UpstreamClient,
        failures: int,
        cooldown_s: float,
        on_change: StateListener | None = None,
    ) -> None:
        """Create the (lazily made) breakers.

        Args:
            client: the pooled client requests go through.
            failures: consecutive failures that open a breaker.
            cooldown_s: seconds a breaker stays open before a trial call.
            on_change: told `(upstream, new state)` at each transition of any breaker.
        """
        self._client = client
        self._on_change = on_change
        self._failures = failures
        self._cooldown_s = cooldown_s
        self._breakers: dict[str, CircuitBreaker] = {}

    def of(self, upstream: str) -> CircuitBreaker:
        """The breaker of the upstream named `upstream` (made closed on first use)."""
        breaker = self._breakers.get(upstream)
        if breaker is None:
            breaker = self._breakers[upstream] = CircuitBreaker(
                upstream, self._failures, self._cooldown_s, on_change=self._on_change
            )
        return breaker

    def states(self, upstreams: list[str]) -> dict[str, BreakerState]:
        """The state of each named upstream's breaker (closed for one never called)."""
        return {
            name: breaker.state if (breaker := self._breakers.get(name)) else BreakerState.CLOSED
            for name in upstreams
        }

    def used(self) -> list[str]:
        """The upstreams calls were sent or routed to since the server started."""
        return list(self._breakers)

    def choose(self, primary: Upstream, fallback: Upstream | None) -> Upstream:
        """`fallback` when `primary`'s breaker refuses calls and the fallback's lets them through."""
        if fallback is None or self.of(primary.name).allows() or not self.of(fallback.name).allows():
            return primary
        return fallback

    @property
    def default_timeouts(self) -> UpstreamTimeouts:
        """The client's global timeouts (a call's own come from `resolve_timeouts`)."""
        return self._client.default_timeouts

    def request(
        self,
        upstream: Upstream,
        method: str,
        url: str,
        headers: CIMultiDict[str],
        body: bytes | None,
        timeouts: UpstreamTimeouts | None = None,
    ) -> UpstreamExchange:
        """`UpstreamClient.request` to `upstream` (`async with`), admitted by its breaker and reported to it.

        The breaker's bookkeeping rides in the client's own exchange (its `Outcome`), so a call has
        one context manager, not one per layer.

        Raises:
            CircuitOpenError: the breaker refused the call; nothing was sent.
            GatewayError: as `UpstreamClient.request` (counted as a failure).
        """
        attempt = self.of(upstream.name).admit()
        return self._client.request(method, url, headers, body, timeouts, outcome=attempt)
