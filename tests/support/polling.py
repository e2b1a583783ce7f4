"""Waiting, in a test, for something the code under test does in the background.

`wait_until` polls a condition (running a probe before each look, when the condition needs one,
such as a call that spreads over replicas) until it holds; its guard fails the test instead of
hanging it, and is never reached when the code under test works.
"""

from __future__ import annotations

import time
from collections.abc import Callable

GUARD_S = 30.0
"""Deadlock guard: how long to wait before failing the test."""
POLL_S = 0.02
"""How long to sleep between two looks."""


def wait_until(
    condition: Callable[[], bool],
    probe: Callable[[], object] | None = None,
    *,
    what: str = "the condition",
    guard_s: float = GUARD_S,
    poll_s: float = POLL_S,
) -> None:
    """Run `probe` (if any) and look at `condition` until it holds; fail naming `what` after `guard_s`."""
    deadline = time.monotonic() + guard_s
    while True:
        if probe is not None:
            probe()
        if condition():
            return
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(poll_s)
