"""The ASGI wrapper that puts `AdminAccess` in front of `/api` and `/ui`.

It admits the caller (or answers the surface's refusal: JSON for the API, a redirect to the login page
for the UI), refuses forged state-changing requests before they reach a handler, hands out the CSRF
cookie, and renders the inner router's 404/405 in the surface's own shape.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luthien.admin.access import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    AdminAccess,
    Denial,
    DenialKind,
    Principal,
    PrincipalKind,
    new_csrf_token,
)
from luthien.gateway.asgi import ClientDisconnected, read_body
from luthien.wire.errors import GatewayError

FORM_BODY_LIMIT = 64 * 1024
"""Largest form body read to find its CSRF token (admin forms are a few fields)."""
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
HTTP_NOT_FOUND = 404
_PRINCIPAL = "admin_principal"
_CSRF = "csrf_token"


class Surface(Protocol):
    """How one side (the API or the UI) answers refusals and routing errors."""

    sets_csrf_cookie: bool

    def is_public(self, method: str, path: str) -> bool:
        """Whether `path` needs no admitted caller (the login page, static assets)."""
        ...

    def denied(self, request: Request, denial: Denial) -> Response:
        """The answer to a caller who is not admitted or whose request is refused."""
        ...

    def http_error(self, request: Request, status: int, message: str) -> Response:
        """The answer for an unknown path (404) or a wrong method (405)."""
        ...


def principal_of(connection: HTTPConnection) -> Principal | None:
    """The admitted caller of this request (None on public paths)."""
    state: dict[str, Any] = connection.scope.get("state", {})
    principal = state.get(_PRINCIPAL)
    return principal if isinstance(principal, Principal) else None


def csrf_token_of(connection: HTTPConnection) -> str:
    """The CSRF token pages embed in forms and scripts send back (the cookie's value)."""
    state: dict[str, Any] = connection.scope.get("state", {})
    token = state.get(_CSRF)
    return token if isinstance(token, str) else ""


def cookie_header(name: str, value: str, *, max_age: int | None, secure: bool) -> tuple[bytes, bytes]:
    """A `Set-Cookie` header: HttpOnly, SameSite=Strict, Path=/ (and Secure over HTTPS)."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return b"set-cookie", "; ".join(parts).encode("latin-1")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that first yields the already-read body, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class AdminGuard:
    """Wraps the `/api` or `/ui` router."""

    def __init__(self, app: ASGIApp, access: AdminAccess, surface: Surface) -> None:
        self.app = app
        self.access = access
        self.surface = surface

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit, check CSRF, then run the inner app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        principal: Principal | None = None
        if not self.surface.is_public(request.method, scope["path"]):
            admitted = self.access.authenticate(request)
            if isinstance(admitted, Denial):
                await self.surface.denied(request, admitted)(scope, receive, send)
                return
            principal = admitted
        if request.method not in SAFE_METHODS:
            try:
                refusal, receive = await self._check_forgery(request, principal, receive)
            except GatewayError as error:
                await self.surface.http_error(request, error.kind.status, error.message)(scope, receive, send)
                return
            except ClientDisconnected:
                return
            if refusal is not None:
                await self.surface.denied(request, Denial(DenialKind.FORBIDDEN, refusal))(
                    scope, receive, send
                )
                return
        state: dict[str, Any] = scope.setdefault("state", {})
        state[_PRINCIPAL] = principal
        await self._run(scope, receive, send, request)

    async def _run(self, scope: Scope, receive: Receive, send: Send, request: Request) -> None:
        state: dict[str, Any] = scope["state"]
        token = request.cookies.get(CSRF_COOKIE)
        new_cookie: tuple[bytes, bytes] | None = None
        if self.surface.sets_csrf_cookie and not token:
            token = new_csrf_token()
            new_cookie = cookie_header(CSRF_COOKIE, token, max_age=None, secure=request.url.scheme == "https")
        state[_CSRF] = token or ""
        started = False

        def send_with_cookie(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if new_cookie is not None:
                    message["headers"] = [*message.get("headers", ()), new_cookie]
            return send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        except HTTPException as error:
            if started:
                raise
            await self.surface.http_error(request, error.status_code, _routing_message(request, error))(
                scope, receive, send_with_cookie
            )

    async def _check_forgery(
        self, request: Request, principal: Principal | None, receive: Receive
    ) -> tuple[str | None, Receive]:
        """Why a state-changing request looks forged (None: it does not), and the `receive` to use.

        Raises:
            GatewayError: REQUEST_TOO_LARGE for a form body over `FORM_BODY_LIMIT`.
            ClientDisconnected: the client left while sending the form.
        """
        reason = self.access.cross_site(request)
        if reason is not None:
            return reason, receive
        # A browser never attaches an Authorization header on its own, so a bearer call is not forged.
        if principal is not None and principal.kind is PrincipalKind.ADMIN_KEY:
            return None, receive
        if not self.access.from_browser(request):
            return None, receive
        token = request.headers.get(CSRF_HEADER)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if token is None and content_type == FORM_CONTENT_TYPE:
            body = await read_body(receive, FORM_BODY_LIMIT)
            receive = _replay(body, receive)
            values = parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD)
            token = values[0] if values else None
        if not self.access.csrf_matches(request, token):
            return "missing or wrong CSRF token: reload the page and try again", receive
        return None, receive


def _routing_message(request: Request, error: HTTPException) -> str:
    problem = "no such page" if error.status_code == HTTP_NOT_FOUND else "method not allowed"
    return f"{request.method} {request.url.path}: {problem}"
