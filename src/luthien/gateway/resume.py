"""Resuming a Responses stream (`GET /v1/responses/{id}?stream=true&starting_after=N`) under a policy.

A policy must see a response whole, so the stream is asked of the upstream from its start, goes
through the policy, and the frames the client already has (numbered up to `N` as Luthien first sent
them) are skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import orjson

from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.sse import SSEParser

RESUME_PARAMETER = "starting_after"
"""The query parameter of a resumed Responses stream: the last `sequence_number` the client has."""


def replay_from_start(query: str) -> tuple[str, int | None]:
    """The upstream query without `starting_after`, and its value (None when absent or not a number)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    resume = [value for name, value in pairs if name == RESUME_PARAMETER]
    if not resume:
        return query, None
    try:
        after = int(resume[-1])
    except ValueError as error:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{RESUME_PARAMETER}: must be an integer") from error
    return urlencode([(name, value) for name, value in pairs if name != RESUME_PARAMETER]), after


async def skip_sent(chunks: AsyncIterator[bytes], after: int) -> AsyncIterator[bytes]:
    """The frames of a Responses stream the client does not have yet: numbered above `after`.

    `run_stream` yields one frame per chunk, numbered as the client received them the first time;
    frames without a number (comments) go out.
    """
    parser = SSEParser()
    async for chunk in chunks:
        numbers = [_sequence_number(frame.data) for frame in parser.feed(chunk)]
        if any(number is None or number > after for number in numbers):
            yield chunk


def _sequence_number(data: str | None) -> int | None:
    try:
        parsed: Any = orjson.loads(data or "null")
    except orjson.JSONDecodeError:
        return None
    number: Any = cast(dict[str, Any], parsed).get("sequence_number") if isinstance(parsed, dict) else None
    return number if isinstance(number, int) else None
