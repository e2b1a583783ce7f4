"""The pages that change something: logging in and out, and switching the active policy.

They are plain HTML forms (they work without JavaScript). The guard has already refused cross-site
posts and posts without the CSRF token before these handlers run.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import Response

from luthien.admin.access import SESSION_COOKIE, AdminAccess, Principal
from luthien.admin.guard import cookie_header, principal_of
from luthien.admin.policies import PolicySwitcher, UnknownPolicy
from luthien.gateway.asgi import read_body
from luthien.shadow.policies import UnknownShadow
from luthien.web.render import Renderer
from luthien.web.surface import redirect, safe_next

FORM_LIMIT = 16 * 1024
"""Largest login or policy form accepted."""


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form's fields (first value of each).

    Raises:
        GatewayError: REQUEST_TOO_LARGE past `FORM_LIMIT`.
        ClientDisconnected: the client left while sending.
    """
    raw = await read_body(request.receive, FORM_LIMIT)
    return {key: values[0] for key, values in parse_qs(raw.decode("utf-8", errors="replace")).items()}


class FormPages:
    """Handlers of `/ui/login`, `/ui/logout` and `/ui/policies`."""

    def __init__(self, renderer: Renderer, access: AdminAccess, switcher: PolicySwitcher) -> None:
        self.renderer = renderer
        self.access = access
        self.switcher = switcher

    def _login_page(self, request: Request, next_path: str, error: str | None, status: int) -> Response:
        return self.renderer.page(request, "login.html", status, next=next_path, error=error)

    async def login(self, request: Request) -> Response:
        """`GET /ui/login`: the form; callers already let in go straight on."""
        next_path = safe_next(request.query_params.get("next"))
        admitted = self.access.authenticate(request)
        if isinstance(admitted, Principal):
            return redirect(next_path)
        if not self.access.key_required:
            return self.renderer.page(
                request, "error.html", admitted.status, title="Access refused", message=admitted.message
            )
        return self._login_page(request, next_path, None, 200)

    async def login_submit(self, request: Request) -> Response:
        """`POST /ui/login`: a correct key gets the session cookie; a wrong one the form again (401)."""
        form = await _form(request)
        next_path = safe_next(form.get("next"))
        if not self.access.key_required:
            return redirect(next_path)
        if not self.access.key_matches(form.get("key", "")):
            return self._login_page(request, next_path, "That is not the admin key.", 401)
        response = redirect(next_path)
        name, value = cookie_header(
            SESSION_COOKIE,
            self.access.new_session(),
            max_age=int(self.access.session_seconds),
            secure=request.url.scheme == "https",
        )
        response.headers.append(name.decode("latin-1"), value.decode("latin-1"))
        return response

    async def logout(self, request: Request) -> Response:
        """`POST /ui/logout`: end the session and clear its cookie."""
        self.access.end_session(request.cookies.get(SESSION_COOKIE))
        response = redirect("/ui/login")
        name, value = cookie_header(SESSION_COOKIE, "", max_age=0, secure=request.url.scheme == "https")
        response.headers.append(name.decode("latin-1"), value.decode("latin-1"))
        return response

    def _policies_page(
        self, request: Request, status: int, switched: str | None, error: str | None
    ) -> Response:
        listing = self.switcher.listing()
        return self.renderer.page(
            request,
            "policies.html",
            status,
            policies=listing["policies"],
            shadow=listing["shadow"],
            switched=switched,
            error=error,
        )

    async def policies(self, request: Request) -> Response:
        """`GET /ui/policies`: every configured instance; the active one first."""
        switched = request.query_params.get("switched")
        return self._policies_page(request, 200, switched if switched == self.switcher.active else None, None)

    async def switch_policy(self, request: Request) -> Response:
        """`POST /ui/policies`: activate the chosen policy (audited with who did it)."""
        form = await _form(request)
        name = form.get("policy", "")
        principal = principal_of(request)
        try:
            self.switcher.switch(name, principal.who if principal is not None else "unknown")
        except UnknownPolicy:
            return self._policies_page(request, 400, None, f"There is no configured policy named {name!r}.")
        return redirect(f"/ui/policies?switched={quote(name, safe='')}")

    async def toggle_shadow(self, request: Request) -> Response:
        """`POST /ui/policies/shadow`: run the chosen policy in shadow (`shadow=on`) or stop (audited)."""
        form = await _form(request)
        name = form.get("policy", "")
        current = list(self.switcher.listing()["shadow"])
        wanted = [*current, name] if form.get("shadow") == "on" else [n for n in current if n != name]
        principal = principal_of(request)
        try:
            self.switcher.switch_shadow(wanted, principal.who if principal is not None else "unknown")
        except UnknownShadow:
            return self._policies_page(request, 400, None, f"There is no configured policy named {name!r}.")
        return redirect("/ui/policies")


form_fields = _form
"""The urlencoded form of a request (first value of each field); used by the other form pages."""
