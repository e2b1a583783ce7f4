"""Who gets into the admin API and the web UI, through a real server.

A client that is not on loopback is simulated the way production sees one behind a local reverse
proxy: uvicorn trusts `X-Forwarded-For` from 127.0.0.1 and makes it the client address.
"""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from luthien.admin.access import CSRF_COOKIE, SESSION_COOKIE
from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory

ADMIN_KEY = "admin-key-e2e"
PROXY_KEY = "proxy-key-e2e"
REMOTE = {"x-forwarded-for": "198.51.100.7"}
CONFIG = LuthienConfig.model_validate({"policies": {"shout": {"class": "all_caps"}}, "policy": "noop"})


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def active_policy(base_url: str) -> str:
    response = httpx.get(f"{base_url}/api/policies", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    return str(response.json()["active"])


# --- without an admin key -------------------------------------------------------------------------


def test_without_an_admin_key_loopback_clients_get_in_and_startup_warns(
    make_luthien: LuthienFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="luthien.admin"):
        server = make_luthien()

    assert httpx.get(f"{server.base_url}/api/policies").status_code == 200
    assert httpx.get(f"{server.base_url}/ui/activity").status_code == 200
    assert any("LUTHIEN_ADMIN_KEY is not set" in r.getMessage() for r in caplog.records)


def test_without_an_admin_key_other_clients_are_refused(make_luthien: LuthienFactory) -> None:
    server = make_luthien()

    api = httpx.get(f"{server.base_url}/api/policies", headers=REMOTE)
    page = httpx.get(f"{server.base_url}/ui/activity", headers=REMOTE)
    login = httpx.get(f"{server.base_url}/ui/login", headers=REMOTE)

    assert api.status_code == 403
    assert error_of(api)["type"] == "permission_error"
    assert page.status_code == 403
    assert login.status_code == 403
    assert "LUTHIEN_ADMIN_KEY" in login.text


# --- with an admin key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Bearer {PROXY_KEY}"},
        {"x-api-key": PROXY_KEY},
        {"x-api-key": ADMIN_KEY},
        {"authorization": f"Basic {ADMIN_KEY}"},
    ],
)
def test_the_api_wants_the_admin_key_as_a_bearer_token(
    make_luthien: LuthienFactory, headers: dict[str, str]
) -> None:
    server = make_luthien(admin_key=ADMIN_KEY, api_key=PROXY_KEY)

    response = httpx.get(f"{server.base_url}/api/policies", headers=headers)

    assert response.status_code == 401
    assert error_of(response)["type"] == "authentication_error"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_admin_key_opens_the_api_from_anywhere(make_luthien: LuthienFactory) -> None:
    server = make_luthien(admin_key=ADMIN_KEY, api_key=PROXY_KEY)

    response = httpx.get(
        f"{server.base_url}/api/policies", headers={"authorization": f"Bearer {ADMIN_KEY}", **REMOTE}
    )

    assert response.status_code == 200
    assert response.json()["active"] == "noop"


def test_pages_send_a_visitor_without_a_login_to_the_login_page(make_luthien: LuthienFactory) -> None:
    server = make_luthien(admin_key=ADMIN_KEY)

    response = httpx.get(f"{server.base_url}/ui/history?model=x")

    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fhistory%3Fmodel%3Dx"


def login_form(client: httpx.Client) -> dict[str, str]:
    page = client.get("/ui/login?next=/ui/policies")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return {"csrf_token": token.group(1), "next": "/ui/policies"}


def test_logging_in_sets_a_strict_http_only_session_cookie_that_is_not_the_key(
    make_luthien: LuthienFactory,
) -> None:
    server = make_luthien(admin_key=ADMIN_KEY)
    with httpx.Client(base_url=server.base_url) as client:
        form = login_form(client)

        response = client.post("/ui/login", data={**form, "key": ADMIN_KEY})

        assert response.status_code == 303
        assert response.headers["location"] == "/ui/policies"
        cookie = next(
            v for v in response.headers.get_list("set-cookie") if v.startswith(f"{SESSION_COOKIE}=")
        )
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "path", "samesite", "max-age"} <= attributes
        assert "SameSite=Strict" in cookie
        assert "Path=/" in cookie
        assert ADMIN_KEY not in cookie
        assert client.get("/ui/policies").status_code == 200
        assert client.get("/api/policies").status_code == 200


def test_a_wrong_key_shows_the_form_again(make_luthien: LuthienFactory) -> None:
    server = make_luthien(admin_key=ADMIN_KEY, api_key=PROXY_KEY)
    with httpx.Client(base_url=server.base_url) as client:
        form = login_form(client)

        response = client.post("/ui/login", data={**form, "key": PROXY_KEY})

        assert response.status_code == 401
        assert SESSION_COOKIE not in response.cookies
        assert client.get("/ui/policies").status_code == 303


def test_logging_out_ends_the_session_even_for_a_copied_cookie(make_luthien: LuthienFactory) -> None:
    server = make_luthien(admin_key=ADMIN_KEY)
    with httpx.Client(base_url=server.base_url) as client:
        form = login_form(client)
        client.post("/ui/login", data={**form, "key": ADMIN_KEY})
        session = client.cookies[SESSION_COOKIE]

        response = client.post("/ui/logout", data={"csrf_token": form["csrf_token"]})

        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login"
    copied = httpx.get(
        f"{server.base_url}/api/policies", cookies={SESSION_COOKIE: session, CSRF_COOKIE: form["csrf_token"]}
    )
    assert copied.status_code == 401


def test_a_login_post_without_the_csrf_token_is_refused(make_luthien: LuthienFactory) -> None:
    server = make_luthien(admin_key=ADMIN_KEY)
    with httpx.Client(base_url=server.base_url) as client:
        login_form(client)

        response = client.post("/ui/login", data={"key": ADMIN_KEY, "next": "/ui/policies"})

        assert response.status_code == 403
        assert SESSION_COOKIE not in client.cookies


def test_login_never_redirects_off_the_ui(make_luthien: LuthienFactory) -> None:
    server = make_luthien(admin_key=ADMIN_KEY)
    with httpx.Client(base_url=server.base_url) as client:
        form = login_form(client)

        response = client.post("/ui/login", data={**form, "next": "//evil.example/ui/x", "key": ADMIN_KEY})

        assert response.headers["location"] == "/ui/activity"


# --- forged state changes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forgery",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_a_cross_site_policy_switch_is_refused_and_changes_nothing(
    make_luthien: LuthienFactory, forgery: dict[str, str]
) -> None:
    server = make_luthien(config=CONFIG)

    api = httpx.put(f"{server.base_url}/api/policy", json={"policy": "shout"}, headers=forgery)
    form = httpx.post(
        f"{server.base_url}/ui/policies",
        data={"policy": "shout"},
        headers={**forgery, "content-type": "application/x-www-form-urlencoded"},
    )

    assert api.status_code == 403
    assert error_of(api)["type"] == "permission_error"
    assert form.status_code == 403
    assert httpx.get(f"{server.base_url}/api/policies").json()["active"] == "noop"


def test_a_browser_post_without_the_csrf_token_is_refused(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG)
    with httpx.Client(base_url=server.base_url) as client:
        client.get("/ui/policies")  # the browser holds the CSRF cookie, as after any page view
        same_origin = {"origin": server.base_url, "sec-fetch-site": "same-origin"}

        without = client.post("/ui/policies", data={"policy": "shout"}, headers=same_origin)
        wrong = client.post(
            "/ui/policies", data={"policy": "shout", "csrf_token": "guess"}, headers=same_origin
        )

        assert (without.status_code, wrong.status_code) == (403, 403)
        assert client.get("/api/policies").json()["active"] == "noop"


def test_the_admin_key_as_bearer_needs_no_csrf_token(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG, admin_key=ADMIN_KEY)

    response = httpx.put(
        f"{server.base_url}/api/policy",
        json={"policy": "shout"},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    )

    assert response.status_code == 200
    assert active_policy(server.base_url) == "shout"


def test_an_oversized_form_is_refused_before_it_is_read_whole(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG)
    with httpx.Client(base_url=server.base_url) as client:
        client.get("/ui/policies")

        response = client.post("/ui/policies", data={"policy": "shout", "padding": "x" * 100_000})

        assert response.status_code == 413
        assert client.get("/api/policies").json()["active"] == "noop"
