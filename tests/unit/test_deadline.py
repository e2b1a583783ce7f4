"""`Deadline`: one timer for successive waits, behaving like a fresh `asyncio.timeout` per wait."""

from __future__ import annotations

import asyncio

import pytest

from luthien.upstream.deadline import Deadline

pytestmark = pytest.mark.asyncio

SHORT_S = 0.02
LONG_S = 30.0
MOVING_S = 1.0


async def test_a_wait_that_finishes_in_time_returns_its_result() -> None:
    deadline = Deadline()
    result = await deadline.wait(asyncio.sleep(0, "done"), deadline.time() + LONG_S)
    assert result == "done"
    deadline.close()


async def test_a_wait_past_its_deadline_raises_timeout_and_cancels_the_awaitable() -> None:
    deadline = Deadline()
    blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await deadline.wait(blocked, deadline.time() + SHORT_S)
    assert blocked.cancelled()
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0  # the timeout's own cancellation was taken back


async def test_successive_waits_move_the_deadline_later() -> None:
    """The first wait's timer fires after later waits moved the deadline on: it re-arms, no timeout."""
    deadline = Deadline()
    first_deadline = deadline.time() + MOVING_S
    for _ in range(3):  # each wait well inside its own deadline; together past the first one's
        await deadline.wait(asyncio.sleep(MOVING_S * 0.4), deadline.time() + MOVING_S)
    assert deadline.time() > first_deadline
    deadline.close()


async def test_time_between_waits_does_not_count() -> None:
    deadline = Deadline()
    await deadline.wait(asyncio.sleep(0), deadline.time() + SHORT_S)
    await asyncio.sleep(SHORT_S * 2)  # the timer fires between waits: nothing happens
    assert await deadline.wait(asyncio.sleep(0, 1), deadline.time() + LONG_S) == 1
    deadline.close()


async def test_an_earlier_deadline_replaces_a_later_timer() -> None:
    deadline = Deadline()
    await deadline.wait(asyncio.sleep(0), deadline.time() + LONG_S)
    blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await deadline.wait(blocked, deadline.time() + SHORT_S)


async def test_expire_ends_the_wait_in_progress_as_a_timeout() -> None:
    deadline = Deadline()
    blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(deadline.wait(blocked, deadline.time() + LONG_S))
    await asyncio.sleep(0)
    deadline.expire()
    with pytest.raises(TimeoutError):
        await waiting


async def test_expire_between_waits_does_nothing() -> None:
    deadline = Deadline()
    deadline.expire()
    assert await deadline.wait(asyncio.sleep(0, 2), deadline.time() + LONG_S) == 2
    deadline.close()


async def test_a_cancellation_from_elsewhere_is_passed_on() -> None:
    deadline = Deadline()
    blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(deadline.wait(blocked, deadline.time() + LONG_S))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_an_outside_cancellation_racing_the_deadline_stays_a_cancellation() -> None:
    deadline = Deadline()
    blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(deadline.wait(blocked, deadline.time() + LONG_S))
    await asyncio.sleep(0)
    waiting.cancel()  # the client left ...
    deadline.expire()  # ... as the deadline passed
    with pytest.raises(asyncio.CancelledError):
        await waiting
