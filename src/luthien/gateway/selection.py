"""Which policy serves a call: the active one, or the `X-Luthien-Policy` header's choice when allowed.

The header is honoured only with `LUTHIEN_ALLOW_POLICY_HEADER=true`, and only for policy names the
config defines (an unknown name is a 400). When the header is not allowed it is ignored, and a warning
is logged once per process so an operator notices clients trying to use it.
"""

from __future__ import annotations

import logging
from typing import Any

from luthien.policy.base import Policy
from luthien.wire.errors import ErrorKind, GatewayError

POLICY_HEADER = "x-luthien-policy"
logger = logging.getLogger("luthien.gateway")


class PolicySelector:
    """Holds the built policy instances and picks one per call."""

    def __init__(self, policies: dict[str, Policy[Any]], active: str, allow_header: bool) -> None:
        self.policies = policies
        self.active = active
        self.allow_header = allow_header
        self._warned = False

    def switch(self, name: str) -> str:
        """Make `name` the active policy for calls chosen from now on; return the previous one.

        A call already chosen keeps its policy instance, so calls in flight finish on the old policy.

        Raises:
            KeyError: `name` is not a built policy instance.
        """
        if name not in self.policies:
            raise KeyError(name)
        previous, self.active = self.active, name
        return previous

    def choose(self, headers: list[tuple[str, str]]) -> tuple[str, Policy[Any]]:
        """The name and instance serving a call with these request headers.

        Raises:
            GatewayError: INVALID_REQUEST when the header names an unknown policy.
        """
        requested = next((value.strip() for name, value in headers if name == POLICY_HEADER), None)
        if requested is None:
            return self.active, self.policies[self.active]
        if not self.allow_header:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "ignoring %s request header: set LUTHIEN_ALLOW_POLICY_HEADER=true to honour it",
                    POLICY_HEADER,
                )
            return self.active, self.policies[self.active]
        policy = self.policies.get(requested)
        if policy is None:
            known = ", ".join(sorted(self.policies))
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, f"unknown policy {requested!r} (configured: {known})"
            )
        return requested, policy
