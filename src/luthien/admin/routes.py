"""The `/api` mount: the admin API's routes behind the admin guard, with JSON refusals."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Router

from luthien.admin.access import AdminAccess, Denial, DenialKind
from luthien.admin.api import AdminApi
from luthien.admin.errors import ApiErrorKind, error_response
from luthien.admin.guard import AdminGuard


class ApiSurface:
    """The `Surface` of `/api`: every path needs an admitted caller; errors are JSON."""

    sets_csrf_cookie = False

    def is_public(self, method: str, path: str) -> bool:
        """Nothing under `/api` is public."""
        return False

    def denied(self, request: Request, denial: Denial) -> Response:
        """401 or 403 as JSON."""
        kind = (
            ApiErrorKind.AUTHENTICATION
            if denial.kind is DenialKind.UNAUTHENTICATED
            else ApiErrorKind.PERMISSION
        )
        return error_response(kind, denial.message)

    def http_error(self, request: Request, status: int, message: str) -> Response:
        """404, 405 or 413 as JSON."""
        return error_response(ApiErrorKind.for_status(status), message)


def admin_routes(api: AdminApi, access: AdminAccess, extra: Sequence[BaseRoute] = ()) -> list[BaseRoute]:
    """`/api/...` (the admin API's routes and `extra` ones, e.g. replays, approvals), guarded."""
    return [Mount("/api", app=AdminGuard(Router([*api.routes(), *extra]), access, ApiSurface()))]
