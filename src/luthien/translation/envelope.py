"""The envelope that carries a provider's opaque reasoning token through a client of another API.

A thinking block's signature (Anthropic) or a reasoning item's `encrypted_content` (OpenAI
Responses) is only meaningful to the provider that made it. When a translated response hands such a
token to a client of another API, it is sealed with the name of the API that made it; when the
client sends it back, it is opened and forwarded only to an upstream of that same API, and dropped
for any other (a foreign token would be rejected, or worse, misread).

The sealed form is plain ASCII so that every client stores and returns it unchanged:
`luthien.v1.<api>.<token>`.
"""

from __future__ import annotations

from dataclasses import dataclass

ENVELOPE_PREFIX = "luthien.v1."
"""What every sealed token starts with; the version lets the format change without misreading."""


class EnvelopeError(ValueError):
    """An API name that would make an envelope ambiguous."""


@dataclass(frozen=True, slots=True)
class SealedToken:
    """An opened envelope.

    Attributes:
        api: the name of the API whose provider made the token (a `WireApi.name`).
        token: the provider's token, exactly as it made it.
    """

    api: str
    token: str


def seal(api: str, token: str) -> str:
    """Wrap `token`, made by a provider of `api`, for a client of another API.

    Raises:
        EnvelopeError: `api` is empty or contains a dot (it would make the envelope ambiguous).
    """
    if not api or "." in api:
        raise EnvelopeError(f"not an API name: {api!r}")
    return f"{ENVELOPE_PREFIX}{api}.{token}"


def open_envelope(value: str) -> SealedToken | None:
    """The API and token sealed in `value`, or None when `value` is not an envelope of ours."""
    if not value.startswith(ENVELOPE_PREFIX):
        return None
    api, dot, token = value[len(ENVELOPE_PREFIX) :].partition(".")
    if not api or not dot:
        return None
    return SealedToken(api, token)


def token_for(value: str, target_api: str) -> str | None:
    """What to send an upstream of `target_api` for a token a client sent back.

    A token sealed by `target_api` is unwrapped; one sealed by another API is dropped (None); a
    value that is no envelope is the target provider's own token and is kept as is.
    """
    sealed = open_envelope(value)
    if sealed is None:
        return value
    return sealed.token if sealed.api == target_api else None
