"""The provider dialects a client or upstream speaks: `WireFormat`.

A dialect decides the auth header, the error shape and the family of endpoints; the YAML's upstream
`format` (`luthien.config.UpstreamApi`) names the APIs an upstream serves, each of one dialect.
"""

from __future__ import annotations

from enum import StrEnum


class WireFormat(StrEnum):
    """The provider dialect of an API: its auth header, error shape and family of endpoints.

    A client speaks one of the two dialects to us; an upstream's dialect is its `UpstreamApi`'s.
    """

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
