"""The replay pages through a real server: the list, the form that starts a run, a run's disagreements."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.admin_client import anthropic_call, transaction_id
from tests.support.judge_calls import RM, model_reply
from tests.support.records import record_of
from tests.support.servers import LuthienServer

CONFIG = LuthienConfig.model_validate(
    {
        "policies": {"passthrough": {"class": "noop"}, "commands": {"class": "block_commands"}},
        "policy": "passthrough",
    }
)
GUARD_S = 30.0
"""Deadlock guard while waiting for a run; never reached when the code works."""
POLL_S = 0.02


def token_of(html: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    return token.group(1)


@pytest.fixture
def server(make_luthien: LuthienFactory, fake: FakeProvider) -> LuthienServer:
    """A server that recorded one call with a destructive tool call and one without, under noop."""
    server = make_luthien(config=CONFIG)
    fake.enqueue(model_reply("anthropic", True, "Cleaning up.", [RM]))
    record_of(server, transaction_id(anthropic_call(server.base_url, "tidy up", stream=True)))
    record_of(server, transaction_id(anthropic_call(server.base_url, "hello")))
    return server


def finished_page(client: httpx.Client, path: str) -> str:
    deadline = time.monotonic() + GUARD_S
    while True:
        page = client.get(path)
        assert page.status_code == 200
        if 'http-equiv="refresh"' not in page.text or time.monotonic() > deadline:
            return page.text
        time.sleep(POLL_S)


def test_the_form_starts_a_run_whose_page_shows_the_disagreement(server: LuthienServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        listing = client.get("/ui/replays")
        assert listing.status_code == 200
        assert "No replays yet." in listing.text
        assert '<a href="/ui/replays" aria-current="page">Replays</a>' in listing.text

        started = client.post(
            "/ui/replays",
            data={"policy": "commands", "since": "", "limit": "10", "csrf_token": token_of(listing.text)},
            headers={"origin": server.base_url, "sec-fetch-site": "same-origin"},
        )
        assert started.status_code == 303
        page = finished_page(client, started.headers["location"])
        listed = client.get("/ui/replays").text

    run_id = started.headers["location"].rsplit("/", 1)[1]
    assert f'href="/ui/replays/{run_id}"' in listed
    assert re.search(r'data-total="seen">2<', page)
    assert re.search(r'data-total="newly_blocked">1<', page)
    assert page.count('class="card section disagreement"') == 1
    assert f"newly blocked Bash#{RM.id}" in page
    assert 'aria-label="recorded response"' in page
    assert 'aria-label="replayed response"' in page
    assert "m-changed" in page or "m-added" in page or "m-removed" in page
    assert "limit=10" in page


def test_a_bad_form_is_shown_again_with_the_field_named(server: LuthienServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        token = token_of(client.get("/ui/replays").text)

        bad_time = client.post(
            "/ui/replays", data={"policy": "commands", "since": "soon", "csrf_token": token}
        )
        bad_limit = client.post(
            "/ui/replays", data={"policy": "commands", "limit": "ten", "csrf_token": token}
        )
        unknown = client.post("/ui/replays", data={"policy": "<script>", "csrf_token": token})

    assert bad_time.status_code == bad_limit.status_code == unknown.status_code == 400
    assert 'data-field="since"' in bad_time.text
    assert 'value="soon"' in bad_time.text
    assert 'data-field="limit"' in bad_limit.text
    assert "&#39;&lt;script&gt;&#39;" in unknown.text
    assert httpx.get(f"{server.base_url}/api/replays").json()["items"] == []


def test_a_browser_post_without_the_csrf_token_is_refused(server: LuthienServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        client.get("/ui/replays")
        same_origin = {"origin": server.base_url, "sec-fetch-site": "same-origin"}

        without = client.post("/ui/replays", data={"policy": "commands"}, headers=same_origin)
        cross_site = client.post(
            "/ui/replays",
            data={"policy": "commands", "csrf_token": token_of(client.get("/ui/replays").text)},
            headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        )

    assert (without.status_code, cross_site.status_code) == (403, 403)
    assert httpx.get(f"{server.base_url}/api/replays").json()["items"] == []


def test_unknown_runs_and_recording_off(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG)
    assert httpx.get(f"{server.base_url}/ui/replays/feedface").status_code == 404

    off = make_luthien(config=CONFIG, records=False)
    with httpx.Client(base_url=off.base_url) as client:
        listing = client.get("/ui/replays")
        started = client.post(
            "/ui/replays", data={"policy": "commands", "csrf_token": token_of(listing.text)}
        )
        run = client.get("/ui/replays/feedface")

    assert (listing.status_code, started.status_code, run.status_code) == (503, 503, 503)
    assert "Recording is off" in listing.text
