"""How the web UI answers callers the guard turns away, and unknown pages.

A caller without a login is sent to `/ui/login?next=<page>`; anything else gets a readable error page
with the right status (403 for a refused or cross-site request, 404 for an unknown page).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from luthien.admin.access import SAFE_METHODS, Denial, DenialKind
from luthien.web.assets import STATIC_PREFIX
from luthien.web.render import PAGE_HEADERS, Renderer

LOGIN_PATH = "/ui/login"
HOME_PATH = "/ui/activity"
HTTP_SEE_OTHER = 303


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a UI path on this server, else the home page."""
    if (
        target
        and target.startswith("/ui/")
        and not target.startswith(("//", LOGIN_PATH))
        and "\\" not in target
    ):
        return target
    return HOME_PATH


def redirect(location: str) -> Response:
    """A 303 redirect that is never cached."""
    return RedirectResponse(location, status_code=HTTP_SEE_OTHER, headers=PAGE_HEADERS)


class UiSurface:
    """The `Surface` of `/ui` pages."""

    sets_csrf_cookie = True

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def is_public(self, method: str, path: str) -> bool:
        """The login page and static assets need no login."""
        return path == LOGIN_PATH or path.startswith(STATIC_PREFIX)

    def denied(self, request: Request, denial: Denial) -> Response:
        """To the login page for a missing login on a page view; an error page otherwise."""
        if denial.kind is DenialKind.UNAUTHENTICATED and request.method in SAFE_METHODS:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return redirect(f"{LOGIN_PATH}?next={quote(target, safe='')}")
        title = "Login required" if denial.kind is DenialKind.UNAUTHENTICATED else "Access refused"
        return self.renderer.page(request, "error.html", denial.status, title=title, message=denial.message)

    def http_error(self, request: Request, status: int, message: str) -> Response:
        """A readable error page."""
        title = {404: "Not found", 405: "Method not allowed", 413: "Too large"}.get(status, "Error")
        return self.renderer.page(request, "error.html", status, title=title, message=message)
