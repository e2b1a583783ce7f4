"""`noop`: changes nothing. The response is never decoded: every byte goes out as it came in."""

from __future__ import annotations

from luthien.policy.base import Policy, PolicyConfig


class NoopPolicy(Policy[PolicyConfig]):
    """Forwards requests and responses untouched."""
