"""The circuit breaker's state machine, rate-limit header formats, and the config/settings they read.

The breaker runs on a clock the test advances, so cool-downs pass exactly when the test says.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from luthien.config import LuthienConfig
from luthien.ratelimit.headers import Counted, LimitState, limit_headers, openai_duration
from luthien.settings import Settings
from luthien.upstream.breaker import (
    TRANSITIONS,
    BreakerEvent,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
)
from luthien.wire.errors import ErrorKind
from luthien.wire.formats import WireFormat

COOLDOWN_S = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock, failures: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker("up", failures, COOLDOWN_S, clock)
    for _ in range(failures):
        breaker.admit().answered(500)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_it_opens_on_the_nth_consecutive_failure_only() -> None:
    breaker = CircuitBreaker("up", 3, COOLDOWN_S, Clock())

    breaker.admit().answered(503)
    breaker.admit().failed()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2
    breaker.admit().answered(502)

    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize("status", [200, 400, 401, 404, 413, 429])
def test_answers_below_500_reset_the_count(status: int) -> None:
    breaker = CircuitBreaker("up", 2, COOLDOWN_S, Clock())

    breaker.admit().answered(500)
    breaker.admit().answered(status)
    breaker.admit().answered(500)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 1


def test_open_refuses_with_the_seconds_left_until_the_trial() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += COOLDOWN_S - 10.5

    with pytest.raises(CircuitOpenError) as refused:
        breaker.admit()

    assert refused.value.kind is ErrorKind.UPSTREAM_CIRCUIT_OPEN
    assert refused.value.headers == ((b"retry-after", b"11"),)
    assert not breaker.allows()


def test_after_the_cooldown_one_trial_goes_through_and_its_success_closes() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += COOLDOWN_S

    assert breaker.state is BreakerState.HALF_OPEN
    trial = breaker.admit()
    with pytest.raises(CircuitOpenError):
        breaker.admit()  # one trial at a time
    trial.answered(200)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


def test_a_failed_trial_opens_it_for_another_cooldown() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += COOLDOWN_S

    breaker.admit().answered(500)

    assert breaker.state is BreakerState.OPEN
    clock.now += COOLDOWN_S - 1
    assert breaker.state is BreakerState.OPEN
    clock.now += 1
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_trial_without_an_outcome_frees_the_slot() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += COOLDOWN_S

    breaker.admit().release()  # the client left before the upstream answered

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allows()


def test_only_an_attempts_first_outcome_counts() -> None:
    breaker = CircuitBreaker("up", 1, COOLDOWN_S, Clock())
    attempt = breaker.admit()

    attempt.answered(200)
    attempt.failed()  # e.g. the body read failed after the headers said 200
    attempt.release()

    assert breaker.state is BreakerState.CLOSED


def test_calls_admitted_before_it_opened_that_fail_later_change_nothing() -> None:
    clock = Clock()
    breaker = CircuitBreaker("up", 2, COOLDOWN_S, clock)
    in_flight = [breaker.admit() for _ in range(4)]

    in_flight[0].answered(500)
    in_flight[1].answered(500)
    clock.now += COOLDOWN_S - 1
    in_flight[2].failed()  # must not restart the cool-down
    clock.now += 1
    assert breaker.state is BreakerState.HALF_OPEN
    in_flight[3].answered(500)  # not the trial: the trial slot stays free

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allows()


def test_every_transition_is_listed() -> None:
    assert TRANSITIONS == {
        (BreakerState.CLOSED, BreakerEvent.FAILURE_LIMIT): BreakerState.OPEN,
        (BreakerState.OPEN, BreakerEvent.COOLED_DOWN): BreakerState.HALF_OPEN,
        (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_SUCCEEDED): BreakerState.CLOSED,
        (BreakerState.HALF_OPEN, BreakerEvent.TRIAL_FAILED): BreakerState.OPEN,
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.006, "6ms"), (1.0, "1s"), (59.2, "1m0s"), (360.0, "6m0s"), (3723.0, "1h2m3s")],
)
def test_openai_reset_durations(seconds: float, text: str) -> None:
    assert openai_duration(seconds) == text


def test_provider_header_names_and_values() -> None:
    now = datetime(2026, 12, 1, 18, 0, 0, tzinfo=UTC).timestamp()
    state = LimitState(Counted.TOKENS, 1000, 0, now + 90)

    assert limit_headers(WireFormat.ANTHROPIC, state, now) == [
        (b"anthropic-ratelimit-tokens-limit", b"1000"),
        (b"anthropic-ratelimit-tokens-remaining", b"0"),
        (b"anthropic-ratelimit-tokens-reset", b"2026-12-01T18:01:30Z"),
    ]
    assert limit_headers(WireFormat.OPENAI, state, now) == [
        (b"x-ratelimit-limit-tokens", b"1000"),
        (b"x-ratelimit-remaining-tokens", b"0"),
        (b"x-ratelimit-reset-tokens", b"1m30s"),
    ]


@pytest.mark.parametrize("text", ["sixty per minute", "60/fortnight", "60/"])
def test_a_rate_limit_that_does_not_parse_is_refused_at_startup(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(rate_limit=text)

    assert refused.value.errors()[0]["loc"] == ("rate_limit",)


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ({"model": "m*", "upstream": "anthropic", "rate_limit": "ten/minute"}, "rate_limit"),
        ({"model": "m*", "upstream": "anthropic", "fallback": "nowhere"}, None),
        ({"model": "m*", "upstream": "anthropic", "fallback": "openai"}, None),
    ],
)
def test_route_limits_and_fallbacks_are_checked(route: dict[str, str], field: str | None) -> None:
    with pytest.raises(ValidationError) as refused:
        LuthienConfig.model_validate({"routes": [route]})

    error = refused.value.errors()[0]
    assert error["loc"] == (("routes", 0, field) if field else ())


def test_a_fallback_of_the_same_format_is_accepted() -> None:
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"spare": {"format": "anthropic", "base_url": "http://127.0.0.1:1"}},
            "routes": [{"model": "claude-*", "upstream": "anthropic", "fallback": "spare"}],
        }
    )

    assert config.routes[0].fallback == "spare"
