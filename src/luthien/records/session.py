"""Which agent session a call belongs to, from what the agent sends.

Sources, first match wins:

1. the `X-Claude-Code-Session-Id` header (Claude Code);
2. the `session-id` header (Codex);
3. Anthropic requests: `metadata.user_id`. Claude Code sends a JSON string holding `session_id`;
   older versions send a plain `user_<hash>_account_<uuid>_session_<uuid>`, whose part after
   `_session_` is the session; any other plain value is used whole (the caller's own grouping key);
4. OpenAI requests (Chat Completions and Responses): `user`, then `prompt_cache_key`;
5. none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import orjson

from luthien.wire.formats import WireFormat

CLAUDE_CODE_SESSION_HEADER = "x-claude-code-session-id"
CODEX_SESSION_HEADER = "session-id"
SESSION_HEADERS = (CLAUDE_CODE_SESSION_HEADER, CODEX_SESSION_HEADER)
OPENAI_SESSION_FIELDS = ("user", "prompt_cache_key")
PLAIN_SESSION_MARKER = "_session_"
JSON_SESSION_KEYS = ("session_id", "sessionId")
MAX_SESSION_ID_CHARS = 256
"""Longer values are cut: a session id is a grouping key, not content."""


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:MAX_SESSION_ID_CHARS] if value else None


def _from_user_id(user_id: str) -> str | None:
    if user_id.startswith("{"):
        try:
            parsed: Any = orjson.loads(user_id)
        except orjson.JSONDecodeError:
            return _clean(user_id)
        if isinstance(parsed, dict):
            fields = cast(dict[str, Any], parsed)
            for key in JSON_SESSION_KEYS:
                session = _clean(fields.get(key))
                if session is not None:
                    return session
        return None
    _, marker, session = user_id.rpartition(PLAIN_SESSION_MARKER)
    return _clean(session) if marker else _clean(user_id)


def session_id(
    headers: Iterable[tuple[str, str]], body: Mapping[str, Any] | None, wire_format: WireFormat
) -> str | None:
    """The agent session of a call.

    Args:
        headers: the client's request headers, names lower-case.
        body: the parsed request body, or None when it could not be parsed.
        wire_format: the client's API family (decides which body fields are read).
    """
    found: dict[str, str] = {}
    for name, value in headers:
        if name in SESSION_HEADERS and name not in found:
            found[name] = value
    for name in SESSION_HEADERS:
        session = _clean(found.get(name))
        if session is not None:
            return session
    if body is None:
        return None
    if wire_format is WireFormat.ANTHROPIC:
        metadata: Any = body.get("metadata")
        user_id: Any = cast(dict[str, Any], metadata).get("user_id") if isinstance(metadata, dict) else None
        return _from_user_id(user_id.strip()) if isinstance(user_id, str) and user_id.strip() else None
    for field in OPENAI_SESSION_FIELDS:
        session = _clean(body.get(field))
        if session is not None:
            return session
    return None
