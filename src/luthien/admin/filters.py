"""Query parameters of the admin API parsed into a `TransactionFilter`, cursor and page size.

Shared by `/api/transactions`, `/api/export`, `/api/activity/stream` and the web UI's history page.
Anything malformed raises `InvalidQuery` naming the parameter, which the API answers with 400.

Parameters: `session`, `model`, `policy`, `status` (repeatable or a comma list), `blocked`
(`true`/`false`), `event_type`, `since` and `until` (ISO 8601 or epoch seconds), `q` (free text),
`shadow_disagreed` (`true`/`false`: some shadow policy would have blocked or changed the call),
`cursor`, `limit`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from luthien.records.model import TransactionStatus
from luthien.records.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InvalidQuery, TransactionFilter

MAX_TEXT_QUERY_CHARS = 1000
"""Longest free-text search accepted."""
MAX_VALUE_CHARS = 500
"""Longest session id, model, policy or event type accepted in a filter."""

FILTER_PARAMS = frozenset(
    {
        "session",
        "model",
        "policy",
        "status",
        "blocked",
        "event_type",
        "since",
        "until",
        "q",
        "shadow_disagreed",
    }
)
PAGE_PARAMS = frozenset({"cursor", "limit"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A page of a list: where to start and how many."""

    cursor: str | None = None
    limit: int = DEFAULT_PAGE_SIZE


def _single(params: QueryParams, name: str, max_chars: int = MAX_VALUE_CHARS) -> str | None:
    values = params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidQuery(name, f"{name}: give it once")
    value = values[0].strip()
    if len(value) > max_chars:
        raise InvalidQuery(name, f"{name}: longer than {max_chars} characters")
    return value or None


def parse_time(value: str, field: str) -> float:
    """Seconds since the epoch from epoch seconds or an ISO 8601 date-time (naive means UTC).

    Raises:
        InvalidQuery: neither form, or not finite.
    """
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidQuery(
                field, f"{field}: expected ISO 8601 (2025-01-31T12:00:00Z) or epoch seconds"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(seconds):
        raise InvalidQuery(field, f"{field}: must be a finite number of seconds")
    return seconds


def parse_bool(value: str, field: str) -> bool:
    """`true`/`false` (also 1/0, yes/no, on/off).

    Raises:
        InvalidQuery: anything else.
    """
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidQuery(field, f"{field}: expected true or false")


def parse_statuses(values: list[str]) -> frozenset[TransactionStatus]:
    """Statuses from repeated and/or comma-separated values.

    Raises:
        InvalidQuery: an unknown status.
    """
    statuses: set[TransactionStatus] = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            try:
                statuses.add(TransactionStatus(name))
            except ValueError:
                known = ", ".join(status.value for status in TransactionStatus)
                raise InvalidQuery("status", f"status: unknown status {name!r} (one of {known})") from None
    return frozenset(statuses)


def check_known(params: QueryParams, allowed: Collection[str]) -> None:
    """Refuse parameters the endpoint does not take, so a typo is not silently ignored.

    Raises:
        InvalidQuery: naming the first unknown parameter.
    """
    for name in params:
        if name not in allowed:
            raise InvalidQuery(name, f"{name}: unknown query parameter (known: {', '.join(sorted(allowed))})")


def parse_filter(params: QueryParams) -> TransactionFilter:
    """The transaction filter the parameters describe (other parameters are ignored here).

    Raises:
        InvalidQuery: a malformed value.
    """
    blocked = _single(params, "blocked")
    disagreed = _single(params, "shadow_disagreed")
    since_text = _single(params, "since")
    until_text = _single(params, "until")
    since = parse_time(since_text, "since") if since_text is not None else None
    until = parse_time(until_text, "until") if until_text is not None else None
    if since is not None and until is not None and until < since:
        raise InvalidQuery("until", "until: earlier than since")
    return TransactionFilter(
        session_id=_single(params, "session"),
        model=_single(params, "model"),
        policy=_single(params, "policy"),
        statuses=parse_statuses(params.getlist("status")),
        blocked_only=parse_bool(blocked, "blocked") if blocked is not None else False,
        event_type=_single(params, "event_type"),
        since=since,
        until=until,
        text=_single(params, "q", MAX_TEXT_QUERY_CHARS),
        shadow_disagreed=parse_bool(disagreed, "shadow_disagreed") if disagreed is not None else None,
    )


def parse_page(params: QueryParams) -> PageRequest:
    """The cursor and page size (1 to `MAX_PAGE_SIZE`).

    Raises:
        InvalidQuery: a limit that is not an integer in range, or an empty cursor.
    """
    limit_text = _single(params, "limit")
    limit = DEFAULT_PAGE_SIZE
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise InvalidQuery("limit", "limit: expected an integer") from None
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidQuery("limit", f"limit: must be between 1 and {MAX_PAGE_SIZE}")
    return PageRequest(_single(params, "cursor", MAX_TEXT_QUERY_CHARS), limit)
