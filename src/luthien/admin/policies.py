"""Listing the configured policy instances and switching the active one, on every replica.

A switch takes effect for calls chosen after it (`PolicySelector.switch`); calls in flight keep the
instance they were given. Each switch is logged and published on the bus as `policy.switched` with
who made it. Every replica (this one included) follows those events and applies them, so all replicas
converge on the last switch in the bus's order.

A replica that starts later adopts the fleet's last switch before it serves, when that switch was
made while the configuration named the same policy as this replica's does; a replica deployed with a
configuration that names another policy keeps its own (a redeploy with a new `policy:` wins over a
switch made under the old one). Until the bus can be read (Redis down), it serves the configured
policy and adopts the last switch as soon as it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from luthien.admin.shadow import ShadowSwitcher
from luthien.events.bus import CONTROL_TYPES, POLICY_SWITCHED, EventBus, LiveEvent
from luthien.gateway.selection import PolicySelector
from luthien.policy.base import Policy
from luthien.policy.registry import REGISTERED

logger = logging.getLogger("luthien.admin")

FOLLOW_RETRY_S = 1.0
"""Pause before subscribing again when the bus subscription fails."""
CATCH_UP_TIMEOUT_S = 2.0
"""How long a starting replica waits to read the fleet's last switch before serving without it."""
FOLLOW_FROM_START = "0-0"
"""Where to follow the control channel from when no switch was ever made."""

_SHORT_NAMES = {target: name for name, target in REGISTERED.items()}


class UnknownPolicy(KeyError):
    """The name is not a configured policy instance."""


def class_reference(policy: Policy[Any]) -> tuple[str, str]:
    """The policy's class as `(short name or module:Class, module:Class)`."""
    cls = type(policy)
    target = f"{cls.__module__}:{cls.__qualname__}"
    return _SHORT_NAMES.get(target, target), target


def describe(name: str, policy: Policy[Any], active: bool, shadow: bool = False) -> dict[str, Any]:
    """One instance for `GET /api/policies`: class, first doc line, config and its JSON schema."""
    cls = type(policy)
    short, target = class_reference(policy)
    doc = (cls.__doc__ or "").strip()
    return {
        "name": name,
        "class": short,
        "class_path": target,
        "description": doc.splitlines()[0] if doc else "",
        "active": active,
        "shadow": shadow,
        "inspects_response": policy.inspects_response,
        "config": policy.config.model_dump(mode="json"),
        "config_schema": cls.config_model.model_json_schema(),
    }


class PolicySwitcher:
    """The admin side of `PolicySelector`: list, switch (audited), and follow other replicas."""

    def __init__(
        self, selector: PolicySelector, bus: EventBus, shadows: ShadowSwitcher | None = None
    ) -> None:
        self.selector = selector
        self.bus = bus
        self.shadows = shadows
        """The shadow policies' switcher, handed every control event (`luthien.admin.shadow`)."""
        self.configured = selector.active
        """The policy this replica's configuration (or `LUTHIEN_TEST_POLICY`) names."""
        self._follower: asyncio.Task[None] | None = None

    @property
    def active(self) -> str:
        """The active policy's name."""
        return self.selector.active

    def listing(self) -> dict[str, Any]:
        """`{"active": name, "shadow": [names], "policies": [...]}`, the active one first, then by name."""
        names = sorted(self.selector.policies, key=lambda n: (n != self.selector.active, n))
        shadow = self.shadows.names if self.shadows is not None else ()
        return {
            "active": self.selector.active,
            "shadow": list(shadow),
            "policies": [
                describe(n, self.selector.policies[n], n == self.selector.active, n in shadow) for n in names
            ],
        }

    def control_state(self) -> dict[str, Any]:
        """The whole control state a control event carries (a late replica reads only the newest)."""
        state: dict[str, Any] = {"policy": self.selector.active, "configured": self.configured}
        return {**state, **self.shadows.state()} if self.shadows is not None else state

    def switch_shadow(self, names: list[str], by: str) -> tuple[str, ...]:
        """Make `names` the shadow policies here and on every replica; return the previous list.

        Raises:
            UnknownShadow: a name is not configured (nothing changes).
            RuntimeError: this switcher has no shadow policies to switch.
        """
        if self.shadows is None:
            raise RuntimeError("no shadow switcher")
        return self.shadows.switch(names, by, self.control_state())

    def switch(self, name: str, by: str) -> str:
        """Make `name` active here and tell every replica; return the previous policy.

        Raises:
            UnknownPolicy: `name` is not configured.
        """
        try:
            previous = self.selector.switch(name)
        except KeyError:
            raise UnknownPolicy(name) from None
        logger.warning("active policy switched from %r to %r by %s", previous, name, by)
        self.bus.publish(POLICY_SWITCHED, "", {**self.control_state(), "previous": previous, "by": by})
        return previous

    def apply(self, event: LiveEvent) -> None:
        """Apply a control event from the bus (from any replica); ignore other events."""
        if event.type not in CONTROL_TYPES:
            return
        if self.shadows is not None:
            self.shadows.apply(event)
        self._apply_policy(event)

    def _apply_policy(self, event: LiveEvent) -> None:
        name = event.data.get("policy")
        if not isinstance(name, str) or name == self.selector.active:
            return
        if name not in self.selector.policies:
            logger.error("policy.switched to %r, which this replica's config does not define; ignored", name)
            return
        previous = self.selector.switch(name)
        logger.warning(
            "active policy switched from %r to %r by %s (via the event bus)",
            previous,
            name,
            event.data.get("by"),
        )

    async def catch_up(self) -> str:
        """Adopt the fleet's last switch if it was made under this replica's configured policy.

        Returns:
            The control channel position to follow from (nothing after it is missed).

        Raises:
            Exception: the bus cannot be read now.
        """
        latest = await self.bus.latest_control()
        if latest is None:
            return FOLLOW_FROM_START
        if self.shadows is not None:
            self.shadows.apply(latest, catching_up=True)
        if latest.type in CONTROL_TYPES and latest.data.get("configured") != self.configured:
            logger.warning(
                "the last policy switch (to %r) was made while the configuration named %r; this "
                "replica's configuration names %r, which stays active",
                latest.data.get("policy"),
                latest.data.get("configured"),
                self.configured,
            )
        elif latest.type in CONTROL_TYPES:
            self._apply_policy(latest)
        return latest.id

    async def follow(self, last_id: str | None = None) -> None:
        """Apply switches from the bus until cancelled; resubscribe after a failure.

        Args:
            last_id: where `catch_up` left off; None to catch up first.
        """
        while True:
            try:
                if last_id is None:
                    last_id = await self.catch_up()
                async for event in self.bus.subscribe_control(last_id):
                    last_id = event.id
                    self.apply(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("following policy switches on the event bus failed; retrying")
            await asyncio.sleep(FOLLOW_RETRY_S)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Catch up with the fleet, then follow the bus for the server's lifetime.

        Enter inside the bus's own lifetime, before the server takes calls.
        """
        start: str | None = None
        try:
            start = await asyncio.wait_for(self.catch_up(), CATCH_UP_TIMEOUT_S)
        except Exception as error:  # the follower catches up once the bus answers
            logger.warning(
                "could not read the last policy switch at startup (%r); serving %r", error, self.active
            )
        self._follower = asyncio.create_task(self.follow(start), name="luthien-policy-follower")
        try:
            yield
        finally:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
