"""Logging in, switching the policy in the UI, and forged requests from another site, in Chromium."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from luthien.config import LuthienConfig
from tests.browser.conftest import PageWatch
from tests.browser.evil_site import EvilSite
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, anthropic_message

ADMIN_KEY = "admin-key-browser"
PROXY_KEY = "proxy-key-browser"
CONFIG = LuthienConfig.model_validate({"policies": {"shout": {"class": "all_caps"}}, "policy": "noop"})
MESSAGE = {"model": "claude-test", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def active_policy(base_url: str, headers: dict[str, str] | None = None) -> str:
    return str(httpx.get(f"{base_url}/api/policies", headers=headers or {}).json()["active"])


def test_login_with_the_admin_key_then_logout(
    make_luthien: LuthienFactory, page: Page, watch: PageWatch
) -> None:
    server = make_luthien(config=CONFIG, admin_key=ADMIN_KEY, api_key=PROXY_KEY)

    page.goto(f"{server.base_url}/ui/policies")
    expect(page).to_have_url(f"{server.base_url}/ui/login?next=%2Fui%2Fpolicies")
    page.fill("#admin-key", PROXY_KEY)
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not the admin key")

    page.fill("#admin-key", ADMIN_KEY)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.base_url}/ui/policies")
    expect(page.locator("h1")).to_have_text("Policies")
    session_cookie = next(c for c in page.context.cookies() if c["name"] == "luthien_session")
    assert session_cookie["httpOnly"]
    assert session_cookie["sameSite"] == "Strict"
    assert ADMIN_KEY not in session_cookie["value"]
    assert page.evaluate("document.cookie") == ""

    page.click("text=Log out")
    expect(page).to_have_url(f"{server.base_url}/ui/login")
    page.goto(f"{server.base_url}/ui/activity")
    expect(page).to_have_url(f"{server.base_url}/ui/login?next=%2Fui%2Factivity")
    assert watch.csp_violations == []


def test_switching_the_policy_in_the_ui_changes_the_next_call(
    make_luthien: LuthienFactory, fake: FakeProvider, page: Page, watch: PageWatch
) -> None:
    server = make_luthien(config=CONFIG)
    fake.enqueue(JSONReply(anthropic_message("quiet words")))

    page.goto(f"{server.base_url}/ui/policies")
    page.locator("article[data-policy=shout] button", has_text="Activate").click()

    expect(page.get_by_role("status")).to_contain_text("Active policy is now shout")
    expect(page.locator("#active-policy")).to_have_text("shout")
    expect(page.locator("article[data-policy=shout] .active-badge")).to_be_visible()
    reply = httpx.post(f"{server.base_url}/v1/messages", json=MESSAGE, headers={"x-api-key": "sk-test"})
    assert reply.headers["x-luthien-policy"] == "shout"
    assert reply.json()["content"][0]["text"] == "QUIET WORDS"
    assert watch.csp_violations == []


def forged_form(target: str) -> str:
    return f"""<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="{target}/ui/policies"><input name="policy" value="shout"></form>
<script>
  fetch("{target}/api/policy", {{method: "PUT", body: '{{"policy":"shout"}}', mode: "no-cors",
    credentials: "include", headers: {{"content-type": "text/plain"}}}}).finally(function () {{
    document.getElementById("f").submit();
  }});
</script>"""


def test_a_cross_site_post_is_refused_without_a_login(make_luthien: LuthienFactory, page: Page) -> None:
    server = make_luthien(config=CONFIG)  # no admin key: every loopback browser is let in
    with EvilSite(forged_form(server.base_url)) as evil:
        page.goto(evil.url)
        page.wait_for_url(f"{server.base_url}/ui/policies")

    expect(page.locator("h1")).to_have_text("Access refused")
    assert active_policy(server.base_url) == "noop"


def test_a_cross_site_post_is_refused_for_a_logged_in_user(make_luthien: LuthienFactory, page: Page) -> None:
    server = make_luthien(config=CONFIG, admin_key=ADMIN_KEY)
    page.goto(f"{server.base_url}/ui/login")
    page.fill("#admin-key", ADMIN_KEY)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.base_url}/ui/activity")

    with EvilSite(forged_form(server.base_url)) as evil:
        page.goto(evil.url)
        page.wait_for_url(f"{server.base_url}/ui/policies")

    assert page.locator("h1").inner_text() in ("Access refused", "Login required")
    assert active_policy(server.base_url, {"authorization": f"Bearer {ADMIN_KEY}"}) == "noop"


def test_the_theme_toggle_is_remembered(make_luthien: LuthienFactory, page: Page) -> None:
    server = make_luthien(config=CONFIG)
    page.emulate_media(color_scheme="light")
    page.goto(f"{server.base_url}/ui/policies")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.click("#theme-toggle")
    page.reload()

    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != background
