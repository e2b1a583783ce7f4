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
from luthien.approvals.api import ApprovalsApi
from luthien.gateway.state import GatewayState
from luthien.replay.api import ReplayApi
from luthien.replay.service import ReplayService
from luthien.web.routes import ui_routes


class AdminSide:
    """The admin API, the web UI, the policy follower and the replay runs of one gateway."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.access = AdminAccess(state.settings)
        self.switcher = PolicySwitcher(state.policies, state.bus, ShadowSwitcher(state.shadows, state.bus))
        self.api = AdminApi(
            state.store, state.bus, self.switcher, state.settings.activity_keepalive_s, state.draining
        )
        self.replays = ReplayService(state.replays, state.store, state.policies, state.models)

    def routes(self) -> list[BaseRoute]:
        """`/api/...` and `/ui/...`."""
        return [
            *admin_routes(
                self.api, self.access, [*ReplayApi(self.replays).routes(), *self._approval_routes()]
            ),
            *ui_routes(
                self.access,
                self.switcher,
                self.state.store,
                replays=self.replays,
                approvals=self.state.approvals,
            ),
        ]

    def _approval_routes(self) -> list[BaseRoute]:
        approvals = self.state.approvals
        return [] if approvals is None else ApprovalsApi(approvals).routes()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Warn when the admin side is open to loopback without a key; follow policy switches."""
        self.access.warn_if_open()
        async with self.switcher.running(), self.replays.running():
            yield
