"""An upstream's output cap (`max_output_tokens` in its config): the most output any request to it asks for.

Local servers (vLLM, llama.cpp) refuse a request whose output limit does not fit their context, and
Claude Code asks for 64000 tokens. A request to a capped upstream whose limit is above the cap is
sent with the cap instead; one at or under it, or with no limit, is sent unchanged (a call the
upstream serves in the client's API stays the client's exact bytes).

The output-limit fields are Anthropic's `max_tokens`, Chat's `max_completion_tokens` and
`max_tokens`, and Responses' `max_output_tokens`; no API uses one of these names for anything else.
An Anthropic thinking budget must stay below `max_tokens`: one at or above the cap is lowered to
the cap less one, and thinking is turned off when that leaves less than Anthropic's smallest
budget (as translation does, docs/translation.md). Each change is logged at debug.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

logger = logging.getLogger(__name__)

OUTPUT_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
"""Fields that limit a request's output, in any of the three APIs."""
ANTHROPIC_MIN_THINKING_BUDGET = 1024
"""Anthropic's smallest `thinking.budget_tokens`."""


def capped_body(body: Mapping[str, Any], cap: int | None) -> dict[str, Any] | None:
    """`body` with every output limit above `cap` lowered to it; None when nothing needs changing.

    Args:
        body: a request body of any API (not modified).
        cap: the upstream's `max_output_tokens`; None: no cap.
    """
    if cap is None:
        return None
    over = [name for name in OUTPUT_LIMIT_FIELDS if _limit(body.get(name)) > cap]
    if not over:
        return None
    capped = {**body, **dict.fromkeys(over, cap)}
    for name in over:
        logger.debug("output limit %s=%s lowered to the upstream's cap %d", name, body[name], cap)
    thinking = body.get("thinking")
    if "max_tokens" in over and isinstance(thinking, dict):
        settings = cast(dict[str, Any], thinking)
        budget = _limit(settings.get("budget_tokens"))
        if budget >= cap and cap - 1 < ANTHROPIC_MIN_THINKING_BUDGET:
            logger.debug("thinking turned off: the upstream's cap %d leaves no room for a budget", cap)
            del capped["thinking"]
        elif budget >= cap:
            logger.debug("thinking.budget_tokens=%d lowered below the upstream's cap %d", budget, cap)
            capped["thinking"] = {**settings, "budget_tokens": cap - 1}
    return capped


def _limit(value: Any) -> int:
    """An output-limit field's value; 0 when it is absent or not a number (nothing to cap)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
