"""The web UI's pages as a browser receives them: security headers, no inline script, cached assets."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.support.servers import LuthienServer

PAGES = ["/ui/activity", "/ui/history", "/ui/sessions", "/ui/policies", "/ui/replays", "/ui/nope"]
CONFIG = LuthienConfig.model_validate({"policies": {"shout": {"class": "all_caps"}}, "policy": "noop"})


@pytest.fixture
def server(make_luthien: LuthienFactory) -> LuthienServer:
    return make_luthien(config=CONFIG)


def csp_directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2] for d in policy.split(";")}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_forbids_inline_script_framing_and_plugins(server: LuthienServer, path: str) -> None:
    response = httpx.get(f"{server.base_url}{path}")

    directives = csp_directives(response)
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_no_inline_script_style_or_handlers(server: LuthienServer, path: str) -> None:
    html = httpx.get(f"{server.base_url}{path}").text

    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts
    assert all(re.search(r'\bsrc="/ui/static/', tag) for tag in scripts)
    assert all(body.strip() == "" for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.DOTALL))
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_static_assets_have_content_hashed_names_and_are_cached_forever(server: LuthienServer) -> None:
    html = httpx.get(f"{server.base_url}/ui/activity").text
    urls = set(re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', html))

    assert {re.sub(r"\.[0-9a-f]{12}\.", ".", u).rsplit("/", 1)[1] for u in urls} >= {
        "app.css",
        "app.js",
        "theme.js",
        "activity.js",
        "favicon.svg",
    }
    for url in urls:
        response = httpx.get(f"{server.base_url}{url}")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        digest = re.search(r"\.([0-9a-f]{12})\.", url)
        assert digest is not None
        assert hashlib.sha256(response.content).hexdigest()[:12] == digest.group(1)


@pytest.mark.parametrize("name", ["app.css", "app.000000000000.css", "../templates/base.html"])
def test_a_static_name_without_its_current_hash_is_not_found(server: LuthienServer, name: str) -> None:
    response = httpx.get(f"{server.base_url}/ui/static/{name}")

    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-store"


def test_an_unknown_page_is_a_readable_404(server: LuthienServer) -> None:
    response = httpx.get(f"{server.base_url}/ui/nope")

    assert response.status_code == 404
    assert "Not found" in response.text


def test_ui_root_goes_to_the_activity_monitor(server: LuthienServer) -> None:
    for path in ("/ui", "/ui/"):
        response = httpx.get(f"{server.base_url}{path}")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/activity"
