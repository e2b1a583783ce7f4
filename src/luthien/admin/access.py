"""Who may use the admin API and the web UI, and how a browser's request is told from a forged one.

- With `LUTHIEN_ADMIN_KEY`: `Authorization: Bearer <admin key>`, or the session cookie the login page
  sets. The cookie holds a signed token (expiry, random nonce, HMAC keyed by a key derived from the
  admin key), never the key itself; changing the admin key ends every session.
- Without it: loopback clients only (127.0.0.0/8, ::1), and startup logs a warning.
- The proxy key (`LUTHIEN_API_KEY`) opens nothing here: settings refuse an admin key equal to it.
- State-changing methods are refused (403) when the browser says the request is cross-site
  (`Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` that is not this server), and a
  request a browser made (it carries cookies or fetch metadata) must also carry the CSRF token: the
  `luthien_csrf` cookie's value in the `X-CSRF-Token` header or the `csrf_token` form field.

Every secret comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from luthien.settings import Settings

logger = logging.getLogger("luthien.admin")

SESSION_COOKIE = "luthien_session"
CSRF_COOKIE = "luthien_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sec-Fetch-Site values a page of this server (or the user typing the URL) produces.
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})
_NONCE_BYTES = 16
_CSRF_BYTES = 32
_SESSION_KEY_LABEL = b"luthien-ui-session-v1"
_BEARER = "bearer "
_SESSION_TOKEN_PARTS = 3  # expiry, nonce, mac
SECONDS_PER_HOUR = 3600


class PrincipalKind(StrEnum):
    """How a caller was let in (recorded as `by` on audited changes)."""

    ADMIN_KEY = "admin-key"
    LOOPBACK = "loopback"
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Principal:
    """An admitted caller.

    Attributes:
        kind: how it was admitted.
        session: the login session's public id (SESSION only).
    """

    kind: PrincipalKind
    session: str | None = None

    @property
    def who(self) -> str:
        """`admin-key`, `loopback`, or `session:<id>`: the name audited changes carry."""
        if self.kind is PrincipalKind.SESSION:
            return f"session:{self.session}"
        return self.kind.value


class DenialKind(StrEnum):
    """Why a caller is turned away."""

    UNAUTHENTICATED = "authentication_error"
    FORBIDDEN = "permission_error"


@dataclass(frozen=True, slots=True)
class Denial:
    """A refusal: the HTTP status, the error type and a message for the caller."""

    kind: DenialKind
    message: str

    @property
    def status(self) -> int:
        """401 for a missing or wrong credential, 403 for a refusal no credential would change."""
        return 401 if self.kind is DenialKind.UNAUTHENTICATED else 403


def is_loopback(host: str | None) -> bool:
    """Whether a client address is on the loopback network (IPv4-mapped IPv6 included)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def bearer_token(connection: HTTPConnection) -> str | None:
    """The `Authorization: Bearer` token, if any."""
    value = connection.headers.get("authorization", "")
    if value[: len(_BEARER)].lower() != _BEARER:
        return None
    return value[len(_BEARER) :].strip()


def new_csrf_token() -> str:
    """A fresh random CSRF token for the double-submit cookie."""
    return secrets.token_urlsafe(_CSRF_BYTES)


class AdminAccess:
    """Admission, login sessions and CSRF checks for `/api` and `/ui`."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._key = settings.admin_key.get_secret_value() if settings.admin_key is not None else None
        self._session_seconds = settings.admin_session_hours * SECONDS_PER_HOUR
        self._clock = clock
        self._signing_key = (
            hmac.new(self._key.encode("utf-8"), _SESSION_KEY_LABEL, hashlib.sha256).digest()
            if self._key is not None
            else b""
        )
        # Logged-out sessions (nonce → expiry), until they would have expired anyway.
        self._revoked: dict[str, float] = {}

    @property
    def key_required(self) -> bool:
        """Whether an admin key is configured (else loopback clients only)."""
        return self._key is not None

    @property
    def session_seconds(self) -> float:
        """How long a login lasts."""
        return self._session_seconds

    def warn_if_open(self) -> None:
        """Log the startup warning for a server without an admin key."""
        if self._key is None:
            logger.warning(
                "LUTHIEN_ADMIN_KEY is not set: the admin API and web UI accept loopback clients only, "
                "without a key (anyone on this machine, and a reverse proxy on it, gets in)"
            )

    def key_matches(self, presented: str) -> bool:
        """Whether `presented` is the admin key (constant time; False when none is configured)."""
        return self._key is not None and _equal(presented, self._key)

    def authenticate(self, connection: HTTPConnection) -> Principal | Denial:
        """Admit the caller or say why not."""
        if self._key is None:
            host = connection.client.host if connection.client is not None else None
            if is_loopback(host):
                return Principal(PrincipalKind.LOOPBACK)
            return Denial(
                DenialKind.FORBIDDEN,
                "the admin side accepts loopback clients only: set LUTHIEN_ADMIN_KEY to allow others",
            )
        token = bearer_token(connection)
        if token is not None:
            if self.key_matches(token):
                return Principal(PrincipalKind.ADMIN_KEY)
            return Denial(DenialKind.UNAUTHENTICATED, "invalid admin key")
        session = self.session_of(connection.cookies.get(SESSION_COOKIE))
        if session is not None:
            return Principal(PrincipalKind.SESSION, session)
        return Denial(
            DenialKind.UNAUTHENTICATED,
            "admin key required: send `Authorization: Bearer <LUTHIEN_ADMIN_KEY>` or log in at /ui/login",
        )

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._signing_key, payload.encode("ascii"), hashlib.sha256).digest())

    def new_session(self) -> str:
        """A signed session token (`expiry.nonce.mac`) for the cookie, after a correct key."""
        expiry = int(self._clock() + self._session_seconds)
        payload = f"{expiry}.{_b64(secrets.token_bytes(_NONCE_BYTES))}"
        return f"{payload}.{self._mac(payload)}"

    def _parse_session(self, token: str | None) -> tuple[int, str] | None:
        if self._key is None or not token:
            return None
        parts = token.split(".")
        if len(parts) != _SESSION_TOKEN_PARTS or not parts[0].isdigit():
            return None
        expiry_text, nonce, mac = parts
        if not _equal(mac, self._mac(f"{expiry_text}.{nonce}")):
            return None
        expiry = int(expiry_text)
        if expiry <= self._clock() or nonce in self._revoked:
            return None
        return expiry, nonce

    def session_of(self, token: str | None) -> str | None:
        """The public id of a valid, unexpired, not logged-out session token, else None."""
        parsed = self._parse_session(token)
        return None if parsed is None else _public_id(parsed[1])

    def end_session(self, token: str | None) -> None:
        """Log out: the token stops working on this replica (and expires everywhere in due time)."""
        parsed = self._parse_session(token)
        now = self._clock()
        self._revoked = {nonce: expiry for nonce, expiry in self._revoked.items() if expiry > now}
        if parsed is not None:
            self._revoked[parsed[1]] = parsed[0]

    def cross_site(self, connection: HTTPConnection) -> str | None:
        """Why a state-changing request is cross-site (None: it is not, as far as the browser says)."""
        fetch_site = connection.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in SAME_SITE_FETCHES:
            return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
        origin = connection.headers.get("origin")
        if origin is not None:
            host = connection.headers.get("host", "")
            if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
                return "cross-site request refused (Origin does not match this server)"
        return None

    @staticmethod
    def from_browser(connection: HTTPConnection) -> bool:
        """Whether a browser made the request: it carries cookies or fetch metadata."""
        headers = connection.headers
        return "cookie" in headers or "origin" in headers or "sec-fetch-site" in headers

    @staticmethod
    def csrf_matches(connection: HTTPConnection, presented: str | None) -> bool:
        """Whether `presented` equals the CSRF cookie (double submit, constant time)."""
        expected = connection.cookies.get(CSRF_COOKIE)
        return bool(expected) and presented is not None and _equal(presented, expected or "")


def _public_id(nonce: str) -> str:
    """A short id naming a session in audit records without revealing the nonce."""
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()[:12]
