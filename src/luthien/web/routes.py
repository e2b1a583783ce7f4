"""The `/ui` route table, behind the admin guard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router

from luthien.admin.access import AdminAccess
from luthien.admin.guard import AdminGuard
from luthien.admin.policies import PolicySwitcher
from luthien.approvals.service import ApprovalService
from luthien.gateway.asgi import ClientDisconnected
from luthien.records.query import RecordStore
from luthien.replay.service import ReplayService
from luthien.web.approvals import ApprovalPages
from luthien.web.assets import AssetCatalog
from luthien.web.forms import FormPages
from luthien.web.pages import RecordPages
from luthien.web.render import Renderer
from luthien.web.replays import ReplayPages
from luthien.web.surface import HOME_PATH, UiSurface, redirect
from luthien.wire.errors import GatewayError

Handler = Callable[[Request], Awaitable[Response]]
HTTP_BAD_REQUEST = 400


def ui_routes(
    access: AdminAccess,
    switcher: PolicySwitcher,
    store: RecordStore | None,
    assets: AssetCatalog | None = None,
    replays: ReplayService | None = None,
    approvals: ApprovalService | None = None,
) -> list[BaseRoute]:
    """`/ui` (redirects to the activity page) and everything under it."""
    assets = assets or AssetCatalog()
    renderer = Renderer(assets, lambda: switcher.active)
    surface = UiSurface(renderer)
    records = RecordPages(renderer, store, sorted(switcher.selector.policies))
    forms = FormPages(renderer, access, switcher)
    approval_pages = ApprovalPages(renderer, approvals)

    def page(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except GatewayError as error:
                return surface.http_error(request, error.kind.status, error.message)
            except ClientDisconnected:
                return Response(status_code=HTTP_BAD_REQUEST)

        return run

    async def home(request: Request) -> Response:
        return redirect(HOME_PATH)

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/activity", page(records.activity), methods=["GET"]),
        Route("/history", page(records.history), methods=["GET"]),
        Route("/transactions/{transaction_id}", page(records.transaction), methods=["GET"]),
        Route("/sessions", page(records.sessions), methods=["GET"]),
        Route("/sessions/{session_id:path}", page(records.session), methods=["GET"]),
        Route("/policies", page(forms.policies), methods=["GET"]),
        Route("/policies", page(forms.switch_policy), methods=["POST"]),
        Route("/policies/shadow", page(forms.toggle_shadow), methods=["POST"]),
        Route("/login", page(forms.login), methods=["GET"]),
        Route("/login", page(forms.login_submit), methods=["POST"]),
        Route("/logout", page(forms.logout), methods=["POST"]),
        Route("/approvals", page(approval_pages.list), methods=["GET"]),
        Route("/approvals/{approval_id}", page(approval_pages.decide), methods=["POST"]),
        Route("/static/{name}", assets.serve, methods=["GET"]),
    ]
    if replays is not None:
        replay_pages = ReplayPages(renderer, replays)
        routes += [
            Route("/replays", page(replay_pages.runs), methods=["GET"]),
            Route("/replays", page(replay_pages.start), methods=["POST"]),
            Route("/replays/{replay_id}", page(replay_pages.run), methods=["GET"]),
        ]
    return [
        Route("/ui", home, methods=["GET"]),
        Mount("/ui", app=AdminGuard(Router(routes), access, surface)),
    ]
