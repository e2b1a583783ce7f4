"""Client authentication and the choice of which credentials go upstream.

| mode          | client presents the proxy key  | client presents anything else         |
|---------------|--------------------------------|---------------------------------------|
| `proxy`       | server's provider key upstream | 401                                   |
| `passthrough` | forwarded as is                | forwarded as is (upstream decides)    |
| `both`        | server's provider key upstream | forwarded as is                       |

Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac

from luthien.settings import AuthMode, Settings
from luthien.wire.errors import ErrorKind, GatewayError

_BEARER = "bearer "


def presented_keys(headers: list[tuple[str, str]]) -> list[str]:
    """Every credential the client presented: `x-api-key` values and `Authorization: Bearer` tokens."""
    keys: list[str] = []
    for name, value in headers:
        if name == "x-api-key":
            keys.append(value.strip())
        elif name == "authorization" and value[: len(_BEARER)].lower() == _BEARER:
            keys.append(value[len(_BEARER) :].strip())
    return keys


def _matches(candidate: str, expected: str) -> bool:
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


def use_server_key(headers: list[tuple[str, str]], settings: Settings) -> bool:
    """Decide whether the upstream gets the server's key (True) or the client's credentials (False).

    Raises:
        GatewayError: AUTHENTICATION in proxy mode when the proxy key is missing or wrong.
    """
    mode = settings.effective_auth_mode
    if mode is AuthMode.PASSTHROUGH or settings.api_key is None:
        return False
    expected = settings.api_key.get_secret_value()
    # Compare against every presented key so timing does not reveal which header held a match.
    matched = [_matches(key, expected) for key in presented_keys(headers)]
    if any(matched):
        return True
    if mode is AuthMode.BOTH:
        return False
    raise GatewayError(ErrorKind.AUTHENTICATION, "invalid or missing Luthien API key")
