"""Switching the shadow policies at run time, audited, on every replica.

`PUT /api/shadow` `{"shadow": [names]}` (and the UI's policies page) replace the list of shadow
policies (`luthien.shadow.policies.ShadowSet`) for calls started from then on. Each switch is logged
and published as `shadow.switched` with who made it; every replica follows it through the policy
follower (`luthien.admin.policies`), which hands it every control event.

Control events carry the whole control state (the active policy and the shadow list), because a
replica that starts later reads only the newest one. It adopts the fleet's shadow list when that was
set while the configuration named the same shadows as its own (as with the active policy).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from luthien.events.bus import SHADOW_SWITCHED, EventBus, LiveEvent
from luthien.shadow.policies import ShadowSet, UnknownShadow

logger = logging.getLogger("luthien.admin")

SHADOW_FIELD = "shadow"
CONFIGURED_SHADOW_FIELD = "configured_shadow"


class ShadowSwitcher:
    """The admin side of `ShadowSet`: switch (audited) and apply switches from the bus."""

    def __init__(self, shadows: ShadowSet, bus: EventBus) -> None:
        self.shadows = shadows
        self.bus = bus
        self.configured = shadows.names
        """The shadow list this replica's configuration names."""

    @property
    def names(self) -> tuple[str, ...]:
        """The shadow policies now."""
        return self.shadows.names

    def state(self) -> dict[str, Any]:
        """The fields every control event carries about shadows."""
        return {SHADOW_FIELD: list(self.shadows.names), CONFIGURED_SHADOW_FIELD: list(self.configured)}

    def switch(self, names: Sequence[str], by: str, control: dict[str, Any]) -> tuple[str, ...]:
        """Make `names` the shadow policies here and tell every replica; return the previous list.

        Args:
            names: the policy instances to run in shadow (empty: none).
            by: who asked (for the audit log and event).
            control: the rest of the control state the event carries (active and configured policy).

        Raises:
            UnknownShadow: a name is not a configured policy instance (nothing changes).
        """
        previous = self.shadows.switch(names)
        logger.warning("shadow policies switched from %s to %s by %s", list(previous), list(self.names), by)
        self.bus.publish(
            SHADOW_SWITCHED, "", {**control, **self.state(), "previous": list(previous), "by": by}
        )
        return previous

    def apply(self, event: LiveEvent, catching_up: bool = False) -> None:
        """Adopt the shadow list a control event carries (from any replica).

        `PolicySwitcher.apply` hands on only control events.

        Args:
            event: the event.
            catching_up: the event is the fleet's last control event read at startup: adopted only
                when it was made under the same configured shadow list as this replica's.
        """
        names = _names(event.data.get(SHADOW_FIELD))
        if names is None or names == self.names:
            return
        if catching_up and _names(event.data.get(CONFIGURED_SHADOW_FIELD)) != self.configured:
            logger.warning(
                "the last shadow switch (to %s) was made under another configuration; keeping %s",
                list(names),
                list(self.names),
            )
            return
        try:
            previous = self.shadows.switch(names)
        except UnknownShadow as error:
            logger.error(
                "shadow policy %r is not defined by this replica's config; switch ignored", error.name
            )
            return
        logger.warning(
            "shadow policies switched from %s to %s by %s (via the event bus)",
            list(previous),
            list(names),
            event.data.get("by"),
        )


def _names(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
    if not all(isinstance(item, str) for item in items):
        return None
    return tuple(items)
