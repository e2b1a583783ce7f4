"""Reading rate-limit text such as `60/minute;1000/hour` (settings and the config file share it)."""

from __future__ import annotations

from limits import RateLimitItem, parse_many


def parse_limits(text: str) -> list[RateLimitItem]:
    """`60/minute;1000/hour` (`;`, `,` or `|` between limits) as `limits` items.

    Raises:
        ValueError: the text is not a list of `<count>/<period>` or `<count> per <period>` limits.
    """
    return parse_many(text)
