"""Lenient readers of parsed JSON: the value when it has the expected type, else a neutral one.

Provider payloads are read defensively (a field may be missing, `null` or of another type in a
stream cut short or from a compatible server that bends the format); these readers say what a
malformed value reads as, once, for every API.
"""

from __future__ import annotations

from typing import Any, cast


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return cast(list[Any], value) if isinstance(value, list) else []


def as_index(value: Any) -> int:
    """`value` if it is an integer (not a boolean), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def as_count(value: Any) -> int | None:
    """`value` if it is an integer (not a boolean), else None (a count the payload does not give)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def error_message(value: Any, fallback: str) -> str:
    """The non-empty `message` of an error object, else `fallback`."""
    message = as_dict(value).get("message")
    return message if isinstance(message, str) and message else fallback
