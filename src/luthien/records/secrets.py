"""Keeping credentials out of records: which headers are never stored, and scrubbing known secrets.

A record keeps the client's request headers minus every credential: the auth headers by name
(`authorization`, `x-api-key`, `proxy-authorization`, `cookie`, `set-cookie`) and any header whose
name contains `key`, `token`, `secret` or `auth`. The values of those headers, and the provider key
Luthien sent upstream, are also scrubbed from the stored bodies and error text, in case a client or
an upstream echoes one back (e.g. in an error message).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, cast

from luthien.records.model import ShadowResult

CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "proxy-authorization", "cookie", "set-cookie"})
CREDENTIAL_NAME_PARTS = ("key", "token", "secret", "auth")
REDACTED = b"[redacted]"
MIN_SECRET_CHARS = 8
"""Shorter values are not scrubbed from bodies: they would match ordinary text."""
_AUTH_SCHEMES = ("bearer ", "basic ")


def is_credential_header(name: str) -> bool:
    """Whether a header (lower-case name) may carry a credential and is never stored."""
    return name in CREDENTIAL_HEADERS or any(part in name for part in CREDENTIAL_NAME_PARTS)


def safe_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers that are not credentials (repeated names joined with `, `)."""
    kept: dict[str, str] = {}
    for name, value in headers:
        if is_credential_header(name):
            continue
        kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return kept


def header_secrets(headers: Iterable[tuple[str, str]]) -> list[bytes]:
    """The credential values among `headers` (an auth scheme such as `Bearer ` removed)."""
    found: list[bytes] = []
    for name, value in headers:
        if not is_credential_header(name):
            continue
        lowered = value.lower()
        for scheme in _AUTH_SCHEMES:
            if lowered.startswith(scheme):
                value = value[len(scheme) :]
                break
        found.append(value.strip().encode("utf-8", errors="replace"))
    return found


class Scrubber:
    """Replaces known secret values in bytes by `[redacted]`."""

    __slots__ = ("_secrets",)

    def __init__(self) -> None:
        self._secrets: list[bytes] = []

    def add(self, *values: bytes | str | None) -> None:
        """Remember secret values to scrub (short or empty ones are ignored)."""
        for value in values:
            if value is None:
                continue
            raw = value.encode("utf-8", errors="replace") if isinstance(value, str) else value
            if len(raw) >= MIN_SECRET_CHARS and raw not in self._secrets:
                self._secrets.append(raw)

    def scrub(self, data: bytes) -> bytes:
        """`data` with every known secret replaced."""
        for secret in self._secrets:
            if secret in data:
                data = data.replace(secret, REDACTED)
        return data

    def scrub_optional(self, data: bytes | None) -> bytes | None:
        """Like `scrub`, passing None through."""
        return None if data is None else self.scrub(data)

    def scrub_text(self, text: str) -> str:
        """`text` with every known secret replaced."""
        return self.scrub(text.encode("utf-8")).decode("utf-8", errors="replace")

    def scrub_value(self, value: Any) -> Any:
        """A JSON-like value (activity event data) with secrets replaced in every string."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, dict):
            mapping = cast(dict[str, Any], value)
            return {key: self.scrub_value(item) for key, item in mapping.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(item) for item in cast(list[Any], value)]
        return value


def scrub_shadow(scrubber: Scrubber, shadow: ShadowResult) -> ShadowResult:
    """`shadow` with the call's known secret values scrubbed from its bodies, events and error."""
    return dataclasses.replace(
        shadow,
        final_request=scrubber.scrub_optional(shadow.final_request),
        final_response=scrubber.scrub_optional(shadow.final_response),
        events=tuple(
            dataclasses.replace(event, data=scrubber.scrub_value(event.data)) for event in shadow.events
        ),
        error=None if shadow.error is None else scrubber.scrub_text(shadow.error),
    )
