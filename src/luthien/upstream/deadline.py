"""`Deadline`: one timer for all the waits of an upstream exchange (headers, first byte, each chunk).

`asyncio.timeout` costs an object, a timer scheduled and a timer cancelled per wait; a stream waits
once per chunk, so that was paid dozens of times per call. A `Deadline` is made once per exchange
and keeps at most one timer: each wait only moves the deadline (a float store), and when the timer
fires before the deadline it re-arms itself at the new one. When the deadline has passed during a
wait, the waiting task is cancelled and the wait raises `TimeoutError`, as with `asyncio.timeout`
(a cancellation from elsewhere, such as the client leaving, is passed on untouched).

Only time spent inside `wait()` counts: between waits (while the response is processed and sent
on) the deadline is not enforced, exactly as a fresh `asyncio.timeout` per wait behaved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

CLOCK_SLACK_S = 0.001
"""A timer may fire this early (event loops round to milliseconds); `asyncio.timeout` accepts it too."""


class Deadline:
    """A reusable deadline for successive waits of one task. Not thread-safe (one event loop)."""

    __slots__ = ("_cancelling", "_expired", "_handle", "_loop", "_task", "_waiting", "_when")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._when = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._waiting = False
        self._expired = False
        self._cancelling = 0

    def time(self) -> float:
        """The event loop's clock (deadlines are on it)."""
        return self._loop.time()

    async def wait(self, awaitable: Awaitable[T], when: float) -> T:
        """Await `awaitable`, raising `TimeoutError` if it is not done by loop time `when`.

        Raises:
            TimeoutError: `when` passed first (or `expire()` was called meanwhile); the awaitable
                was cancelled.
        """
        self._when = when
        self._expired = False
        task = self._task = asyncio.current_task()
        # As `asyncio.timeout`: cancellations requested before the wait are not the deadline's.
        self._cancelling = task.cancelling() if task is not None else 0
        self._waiting = True
        handle = self._handle
        if handle is None or handle.when() > when:
            if handle is not None:
                handle.cancel()
            self._handle = self._loop.call_at(when, self._fire)
        try:
            return await awaitable
        except asyncio.CancelledError:
            task = self._task
            if self._expired and task is not None and task.uncancel() <= self._cancelling:
                raise TimeoutError from None
            raise
        finally:
            self._waiting = False

    def expire(self) -> None:
        """End the wait in progress now, as if its deadline had passed (no-op between waits)."""
        if self._waiting:
            self.close()
            self._when = 0.0
            self._cancel_task()

    def close(self) -> None:
        """Drop the timer (the exchange is over)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        if not self._waiting:
            return  # between waits: the next wait re-arms the timer
        if self._loop.time() + CLOCK_SLACK_S < self._when:
            self._handle = self._loop.call_at(self._when, self._fire)  # the deadline moved later
            return
        self._cancel_task()

    def _cancel_task(self) -> None:
        task = self._task
        if task is None or task.done() or self._expired:
            return
        self._expired = True
        task.cancel()
