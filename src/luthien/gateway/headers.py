"""Which headers cross the proxy, in each direction.

Provider headers (`anthropic-version`, `anthropic-beta`, `x-stainless-*`, `user-agent`, Codex's
`session-id`/`originator`, ...) pass upstream untouched; hop-by-hop headers, framing headers that the
proxy recomputes, and Luthien's own `x-luthien-*` control headers do not. Credentials are swapped for
the server's provider key when the auth decision says so. A client's `traceparent`/`tracestate` pass
like any provider header; with tracing on, the upstream client replaces them with Luthien's own
(`luthien.observability.tracing.upstream_span`).

Header values cross as the bytes that arrived, whatever their encoding: aiohttp hands the upstream's
as UTF-8 decoded with `surrogateescape` (reversed exactly here) and writes ours as UTF-8; ASGI hands
the client's as bytes (Luthien reads them as latin-1). A header that cannot cross byte for byte (a
client value that is not UTF-8, which aiohttp cannot send as is; anything the ASGI server would refuse
to write) is dropped and logged by name, never a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from multidict import CIMultiDict

from luthien.wire.formats import WireFormat

logger = logging.getLogger("luthien.gateway")

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
# What HTTP/1.1 allows on the wire (RFC 9110 §5.1, §5.5): a token as name; no control characters but
# HTAB in a value. The ASGI server refuses to write anything else.
_INVALID_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_INVALID_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


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
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in client_headers:
        if name in dropped or name.startswith(LUTHIEN_HEADER_PREFIX):
            continue
        try:
            # aiohttp writes a value as UTF-8: the client's bytes go out unchanged only if they are UTF-8.
            headers.add(name, value.encode("latin-1").decode("utf-8"))
        except UnicodeError:
            logger.warning(
                "dropped request header %r: its value is not UTF-8, so it cannot be forwarded as is", name
            )
    if use_server_key and server_key is not None:
        name, value = upstream_format.credential(server_key)
        headers[name] = value
    headers["accept-encoding"] = UPSTREAM_ACCEPT_ENCODING
    return headers


def client_response_headers(upstream_headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Upstream response headers worth passing back (request ids, rate limits, content type)."""
    pairs = [(name.lower(), value) for name, value in upstream_headers]
    dropped = _NOT_FORWARDED_DOWN | _connection_listed(pairs)
    out: list[tuple[bytes, bytes]] = []
    for name, value in pairs:
        # Luthien's own headers are set by this hop; an upstream Luthien's must not duplicate them.
        if name in dropped or name.startswith(LUTHIEN_HEADER_PREFIX):
            continue
        raw = _received_bytes(name, value)
        if raw is None:
            logger.warning("dropped response header %r: it cannot be forwarded as received", name)
            continue
        out.append(raw)
    return out


def _received_bytes(name: str, value: str) -> tuple[bytes, bytes] | None:
    """The header's bytes as the upstream sent them (None when they cannot be written back)."""
    try:
        raw = (name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a lone surrogate no decoder produced: not from the wire
        return None
    if not raw[0] or _INVALID_NAME.search(raw[0]) or _INVALID_VALUE.search(raw[1]):
        return None
    return raw
