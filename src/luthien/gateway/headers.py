"""Which headers cross the proxy, in each direction.

Provider headers (`anthropic-version`, `anthropic-beta`, `x-stainless-*`, `user-agent`, Codex's
`session-id`/`originator`, ...) pass upstream untouched; hop-by-hop headers, framing headers that the
proxy recomputes, and Luthien's own `x-luthien-*` control headers do not. Credentials are swapped for
the server's provider key when the auth decision says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict

from luthien.config import WireFormat

# RFC 9110 §7.6.1 hop-by-hop headers, plus framing and encoding headers the proxy sets itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED_UP = _HOP_BY_HOP | {"host", "content-length", "accept-encoding"}
_NOT_FORWARDED_DOWN = _HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})
LUTHIEN_HEADER_PREFIX = "x-luthien-"
# The proxy parses SSE, so it needs decoded bytes; these are the encodings its client decodes.
UPSTREAM_ACCEPT_ENCODING = "gzip, deflate"


def _connection_listed(headers: Iterable[tuple[str, str]]) -> set[str]:
    listed: set[str] = set()
    for name, value in headers:
        if name == "connection":
            listed.update(token.strip().lower() for token in value.split(",") if token.strip())
    return listed


def upstream_request_headers(
    client_headers: list[tuple[str, str]],
    upstream_format: WireFormat,
    server_key: str | None,
    use_server_key: bool,
) -> CIMultiDict[str]:
    """Headers for the upstream request.

    Args:
        client_headers: the client's headers, names lower-cased, in order.
        upstream_format: decides how a server key is presented (`x-api-key` or Bearer).
        server_key: the upstream's configured provider key, if any.
        use_server_key: replace the client's credentials with `server_key`.
    """
    dropped = _NOT_FORWARDED_UP | _connection_listed(client_headers)
    if use_server_key:
        dropped = dropped | _CREDENTIAL_HEADERS
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value)
        for name, value in client_headers
        if name not in dropped and not name.startswith(LUTHIEN_HEADER_PREFIX)
    )
    if use_server_key and server_key is not None:
        if upstream_format is WireFormat.ANTHROPIC:
            headers["x-api-key"] = server_key
        else:
            headers["authorization"] = f"Bearer {server_key}"
    headers["accept-encoding"] = UPSTREAM_ACCEPT_ENCODING
    return headers


def client_response_headers(upstream_headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Upstream response headers worth passing back (request ids, rate limits, content type)."""
    pairs = [(name.lower(), value) for name, value in upstream_headers]
    dropped = _NOT_FORWARDED_DOWN | _connection_listed(pairs)
    # Luthien's own headers are set by this hop; an upstream Luthien's must not duplicate them.
    return [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in pairs
        if name not in dropped and not name.startswith(LUTHIEN_HEADER_PREFIX)
    ]
