"""Admin access decisions: who is let in, signed login sessions, and the cross-site checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.requests import HTTPConnection

from luthien.admin.access import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AdminAccess,
    Denial,
    DenialKind,
    Principal,
    PrincipalKind,
    is_loopback,
)
from luthien.settings import Settings

ADMIN_KEY = "admin-key-for-tests"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def connection(
    headers: dict[str, str] | None = None, client: str = "127.0.0.1", cookies: dict[str, str] | None = None
) -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    scope = {"type": "http", "method": "GET", "path": "/api/x", "headers": raw, "client": (client, 5000)}
    return HTTPConnection(scope)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.2", False),
        ("::ffff:10.0.0.1", False),
        ("", False),
        ("testclient", False),
    ],
)
def test_loopback_addresses(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_without_a_key_only_loopback_gets_in() -> None:
    access = AdminAccess(Settings())

    assert access.authenticate(connection()) == Principal(PrincipalKind.LOOPBACK)
    refused = access.authenticate(connection(client="198.51.100.7"))
    assert isinstance(refused, Denial)
    assert (refused.kind, refused.status) == (DenialKind.FORBIDDEN, 403)


def test_with_a_key_loopback_alone_is_not_enough() -> None:
    access = AdminAccess(Settings(admin_key=ADMIN_KEY))

    missing = access.authenticate(connection())
    wrong = access.authenticate(connection({"authorization": "Bearer nope"}))
    right = access.authenticate(connection({"authorization": f"Bearer {ADMIN_KEY}"}, client="198.51.100.7"))

    assert isinstance(missing, Denial)
    assert missing.status == 401
    assert isinstance(wrong, Denial)
    assert wrong.status == 401
    assert right == Principal(PrincipalKind.ADMIN_KEY)


def test_the_proxy_key_cannot_be_the_admin_key() -> None:
    with pytest.raises(ValidationError):
        Settings(api_key="same", admin_key="same")


def test_a_session_token_works_until_it_expires_and_never_holds_the_key() -> None:
    clock = Clock()
    access = AdminAccess(Settings(admin_key=ADMIN_KEY, admin_session_hours=1), clock)
    token = access.new_session()

    assert ADMIN_KEY not in token
    admitted = access.authenticate(connection(cookies={SESSION_COOKIE: token}))
    assert isinstance(admitted, Principal)
    assert admitted.kind is PrincipalKind.SESSION
    assert admitted.who.startswith("session:")
    clock.now += 3600
    assert isinstance(access.authenticate(connection(cookies={SESSION_COOKIE: token})), Denial)


def test_a_tampered_token_or_one_signed_with_another_key_is_refused() -> None:
    access = AdminAccess(Settings(admin_key=ADMIN_KEY))
    other = AdminAccess(Settings(admin_key="another-key"))
    token = access.new_session()
    expiry, nonce, mac = token.split(".")

    assert access.session_of(f"{int(expiry) + 10_000}.{nonce}.{mac}") is None
    assert access.session_of(other.new_session()) is None
    assert access.session_of("garbage") is None
    assert access.session_of(token) is not None


def test_logging_out_ends_the_session() -> None:
    access = AdminAccess(Settings(admin_key=ADMIN_KEY))
    token = access.new_session()

    access.end_session(token)

    assert access.session_of(token) is None


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({"host": "127.0.0.1:8000"}, False),
        ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}, False),
        ({"host": "127.0.0.1:8000", "sec-fetch-site": "same-origin"}, False),
        ({"host": "127.0.0.1:8000", "sec-fetch-site": "none"}, False),
        ({"host": "127.0.0.1:8000", "origin": "http://evil.example"}, True),
        ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:9999"}, True),
        ({"host": "127.0.0.1:8000", "origin": "null"}, True),
        ({"host": "127.0.0.1:8000", "sec-fetch-site": "cross-site"}, True),
        ({"host": "127.0.0.1:8000", "sec-fetch-site": "same-site"}, True),
    ],
)
def test_cross_site_requests_are_recognised(headers: dict[str, str], cross: bool) -> None:
    assert (AdminAccess(Settings()).cross_site(connection(headers)) is not None) is cross


def test_the_csrf_token_must_equal_the_cookie() -> None:
    with_cookie = connection(cookies={CSRF_COOKIE: "token-1"})

    assert AdminAccess.csrf_matches(with_cookie, "token-1")
    assert not AdminAccess.csrf_matches(with_cookie, "token-2")
    assert not AdminAccess.csrf_matches(with_cookie, None)
    assert not AdminAccess.csrf_matches(connection(), "")
