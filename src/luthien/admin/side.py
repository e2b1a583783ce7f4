"""Everything the gateway app adds for the admin side, built from its state in one place.

`create_app` needs three lines: build `AdminSide(state)`, add `side.routes()`, and enter
`side.running()` in its lifespan (inside the event bus's lifetime).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from starlette.routing import BaseRoute

from luthien.admin.access import AdminAccess
from luthien.admin.api import AdminApi
from luthien.admin.policies import PolicySwitcher
from luthien.admin.routes import admin_routes
from luthien.admin.shadow import ShadowSwitcher
from luthien.gateway.state import GatewayState
from luthien.web.routes import ui_routes


class AdminSide:
    """The admin API, the web UI, and the policy follower of one gateway."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.access = AdminAccess(state.settings)
        self.switcher = PolicySwitcher(state.policies, state.bus, ShadowSwitcher(state.shadows, state.bus))
        self.api = AdminApi(
            state.store, state.bus, self.switcher, state.settings.activity_keepalive_s, state.draining
        )

    def routes(self) -> list[BaseRoute]:
        """`/api/...` and `/ui/...`."""
        return [
            *admin_routes(self.api, self.access),
            *ui_routes(self.access, self.switcher, self.state.store),
        ]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Warn when the admin side is open to loopback without a key; follow policy switches."""
        self.access.warn_if_open()
        async with self.switcher.running():
            yield
