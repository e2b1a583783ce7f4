"""Listing and switching the active policy through the admin API and the policies page.

A switch applies to calls chosen after it; a call in flight finishes on the policy it started with.
Ordering is proved with threading events, never with timings.
"""

from __future__ import annotations

import re
import threading

import httpx
import pytest

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, ReceivedRequest, Reply, anthropic_message

GUARD_S = 30.0
"""Deadlock guard; never reached when the code under test works."""
CONFIG = LuthienConfig.model_validate(
    {
        "policies": {
            "shout": {"class": "all_caps"},
            "guard": {"class": "block_commands", "config": {"on_error": "pass"}},
        },
        "policy": "noop",
    }
)
MESSAGE = {"model": "claude-test", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def call(base_url: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/messages", json=MESSAGE, headers={"x-api-key": "sk-test"}, timeout=GUARD_S
    )


def switch(base_url: str, body: object) -> httpx.Response:
    return httpx.put(f"{base_url}/api/policy", json=body)


def test_the_listing_names_every_instance_its_class_config_and_schema(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG)

    listing = httpx.get(f"{server.base_url}/api/policies").json()

    assert listing["active"] == "noop"
    policies = {p["name"]: p for p in listing["policies"]}
    assert set(policies) == {"noop", "shout", "guard"}
    assert listing["policies"][0]["name"] == "noop"
    assert [p["name"] for p in listing["policies"] if p["active"]] == ["noop"]
    guard = policies["guard"]
    assert guard["class"] == "block_commands"
    assert guard["class_path"] == "luthien.policies.block_commands:BlockCommandsPolicy"
    assert guard["config"]["on_error"] == "pass"
    assert guard["config_schema"]["type"] == "object"
    assert "on_error" in guard["config_schema"]["properties"]
    assert policies["noop"]["inspects_response"] is False


def test_a_switch_changes_the_policy_of_the_next_call(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(config=CONFIG)
    fake.enqueue(JSONReply(anthropic_message("quiet words")), JSONReply(anthropic_message("quiet words")))

    before = call(server.base_url)
    switched = switch(server.base_url, {"policy": "shout"})
    after = call(server.base_url)

    assert switched.status_code == 200
    assert switched.json() == {"active": "shout", "previous": "noop"}
    assert (before.headers["x-luthien-policy"], before.json()["content"][0]["text"]) == (
        "noop",
        "quiet words",
    )
    assert (after.headers["x-luthien-policy"], after.json()["content"][0]["text"]) == ("shout", "QUIET WORDS")


def test_a_call_in_flight_finishes_on_the_policy_it_started_with(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(config=CONFIG)
    upstream_reached = threading.Event()
    release = threading.Event()

    def hold_first(request: ReceivedRequest) -> Reply:
        if not upstream_reached.is_set():
            upstream_reached.set()
            release.wait(GUARD_S)
        return JSONReply(anthropic_message("quiet words"))

    fake.respond_with(hold_first)
    results: list[httpx.Response] = []
    in_flight = threading.Thread(target=lambda: results.append(call(server.base_url)))
    in_flight.start()
    assert upstream_reached.wait(GUARD_S)

    assert switch(server.base_url, {"policy": "shout"}).status_code == 200
    release.set()
    in_flight.join(GUARD_S)
    after = call(server.base_url)

    assert (results[0].headers["x-luthien-policy"], results[0].json()["content"][0]["text"]) == (
        "noop",
        "quiet words",
    )
    assert (after.headers["x-luthien-policy"], after.json()["content"][0]["text"]) == ("shout", "QUIET WORDS")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"policy": "nonexistent"}, "policy"),
        ({"policy": ""}, "policy"),
        ({"policy": 3}, "policy"),
        ({}, "policy"),
        (["shout"], None),
    ],
)
def test_a_bad_switch_is_a_400_and_changes_nothing(
    make_luthien: LuthienFactory, body: object, field: str | None
) -> None:
    server = make_luthien(config=CONFIG)

    response = switch(server.base_url, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error.get("field") == field
    assert httpx.get(f"{server.base_url}/api/policies").json()["active"] == "noop"


def test_a_body_that_is_not_json_is_a_400(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG)

    response = httpx.put(f"{server.base_url}/api/policy", content=b"shout")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_an_oversized_body_is_a_413(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG)

    response = httpx.put(f"{server.base_url}/api/policy", json={"policy": "x" * 100_000})

    assert response.status_code == 413
    assert httpx.get(f"{server.base_url}/api/policies").json()["active"] == "noop"


def test_the_policies_page_switches_with_a_form(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(config=CONFIG)
    fake.enqueue(JSONReply(anthropic_message("quiet words")))
    with httpx.Client(base_url=server.base_url) as client:
        page = client.get("/ui/policies")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None

        response = client.post(
            "/ui/policies",
            data={"policy": "shout", "csrf_token": token.group(1)},
            headers={"origin": server.base_url, "sec-fetch-site": "same-origin"},
        )
        shown = client.get(response.headers["location"])

    assert response.status_code == 303
    assert "Active policy is now" in shown.text
    assert call(server.base_url).json()["content"][0]["text"] == "QUIET WORDS"


def test_an_unknown_policy_on_the_page_is_a_400_page(make_luthien: LuthienFactory) -> None:
    server = make_luthien(config=CONFIG)
    with httpx.Client(base_url=server.base_url) as client:
        page = client.get("/ui/policies")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None

        response = client.post("/ui/policies", data={"policy": "<script>", "csrf_token": token.group(1)})

    assert response.status_code == 400
    assert "&#39;&lt;script&gt;&#39;" in response.text
    assert httpx.get(f"{server.base_url}/api/policies").json()["active"] == "noop"
