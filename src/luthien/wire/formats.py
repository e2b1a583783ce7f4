"""The provider dialects a client or upstream speaks: `WireFormat`, and how each presents a key.

A dialect decides the auth header, the error shape and the family of endpoints; the YAML's upstream
`format` (`luthien.config.UpstreamApi`) names the APIs an upstream serves, each of one dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

ANTHROPIC_VERSION = "2023-06-01"
"""`anthropic-version` sent with the requests Luthien writes itself to Anthropic-format upstreams."""


class WireFormat(StrEnum):
    """The provider dialect of an API: its auth header, error shape and family of endpoints.

    A client speaks one of the two dialects to us; an upstream's dialect is its `UpstreamApi`'s.
    """

    ANTHROPIC = "anthropic"
    OPENAI = "openai"

    def credential(self, key: str) -> tuple[str, str]:
        """The header that presents provider key `key` to an upstream of this dialect."""
        style = _REQUEST_STYLES[self]
        return style.credential_header, f"{style.credential_prefix}{key}"

    @property
    def request_headers(self) -> Mapping[str, str]:
        """Headers a request Luthien writes itself (not the client's) must carry, e.g. a version pin."""
        return _REQUEST_STYLES[self].request_headers


@dataclass(frozen=True, slots=True)
class _RequestStyle:
    credential_header: str
    credential_prefix: str
    request_headers: Mapping[str, str]


_REQUEST_STYLES: Mapping[WireFormat, _RequestStyle] = {
    WireFormat.ANTHROPIC: _RequestStyle("x-api-key", "", {"anthropic-version": ANTHROPIC_VERSION}),
    WireFormat.OPENAI: _RequestStyle("authorization", "Bearer ", {}),
}
