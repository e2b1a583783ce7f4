"""Provider-style rate-limit headers, so clients and SDKs read Luthien's limits as their provider's.

Anthropic: `anthropic-ratelimit-requests-limit`, `-remaining`, `-reset` (an RFC 3339 time), and the
same with `tokens`. OpenAI (Chat and Responses): `x-ratelimit-limit-requests`,
`x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` (a duration such as `6m0s`), and the
same with `tokens`. A refusal also carries `Retry-After` in whole seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from luthien.wire.formats import WireFormat

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
MILLISECONDS_PER_SECOND = 1000


class Counted(StrEnum):
    """What a limit counts: the word used in the header names."""

    REQUESTS = "requests"
    TOKENS = "tokens"


@dataclass(frozen=True, slots=True)
class LimitState:
    """Where one limit stands after a call was admitted or refused.

    Attributes:
        counted: requests or tokens.
        limit: the most the window allows.
        remaining: what is left in it (0 on a refusal).
        reset_at: seconds since the epoch when the window has room again.
    """

    counted: Counted
    limit: int
    remaining: int
    reset_at: float


def retry_after(reset_at: float, now: float) -> tuple[bytes, bytes]:
    """`Retry-After` in whole seconds until `reset_at` (at least 1)."""
    return b"retry-after", str(max(1, math.ceil(reset_at - now))).encode("ascii")


def openai_duration(seconds: float) -> str:
    """A duration the way OpenAI writes its resets: `20ms`, `1s`, `6m0s`, `1h2m3s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * MILLISECONDS_PER_SECOND))}ms"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def limit_headers(wire_format: WireFormat, state: LimitState, now: float) -> list[tuple[bytes, bytes]]:
    """The three rate-limit headers of `state` in the client's provider's names."""
    counted = state.counted.value
    limit = str(state.limit).encode("ascii")
    remaining = str(max(0, state.remaining)).encode("ascii")
    if wire_format is WireFormat.ANTHROPIC:
        reset = datetime.fromtimestamp(math.ceil(state.reset_at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        prefix = f"anthropic-ratelimit-{counted}"
        return [
            (f"{prefix}-limit".encode("ascii"), limit),
            (f"{prefix}-remaining".encode("ascii"), remaining),
            (f"{prefix}-reset".encode("ascii"), reset.encode("ascii")),
        ]
    return [
        (f"x-ratelimit-limit-{counted}".encode("ascii"), limit),
        (f"x-ratelimit-remaining-{counted}".encode("ascii"), remaining),
        (
            f"x-ratelimit-reset-{counted}".encode("ascii"),
            openai_duration(state.reset_at - now).encode("ascii"),
        ),
    ]
