"""The admin API through a real server: every endpoint, and a clear 4xx for every kind of bad input.

Records are made the way users make them: calls through the proxy to the fake provider.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Mount, Route, Router

from luthien.admin.guard import AdminGuard
from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
)
from tests.support.admin_client import (
    CLAUDE_SESSION_HEADER,
    GUARD_S,
    anthropic_call,
    transaction_id,
    wait_for_record,
)
from tests.support.servers import LuthienServer


def api_paths(server: LuthienServer) -> set[str]:
    """Every path the running app serves under /api (read from its route table)."""
    mount = next(r for r in server.app.routes if isinstance(r, Mount) and r.path == "/api")
    guard = mount.app
    assert isinstance(guard, AdminGuard)
    router = guard.app
    assert isinstance(router, Router)
    return {f"/api{route.path_format}" for route in router.routes if isinstance(route, Route)}


def test_the_openapi_document_is_valid_and_lists_every_admin_path(luthien: LuthienServer) -> None:
    response = httpx.get(f"{luthien.base_url}/api/openapi.json")

    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == api_paths(luthien)
    assert {
        "/api/transactions",
        "/api/transactions/{transaction_id}",
        "/api/sessions",
        "/api/sessions/{session_id}",
        "/api/activity/stream",
        "/api/policies",
        "/api/policy",
        "/api/export",
    } <= set(document["paths"])


def test_an_unknown_api_path_or_method_is_a_json_error(luthien: LuthienServer) -> None:
    missing = httpx.get(f"{luthien.base_url}/api/nothing-here")
    wrong_method = httpx.delete(f"{luthien.base_url}/api/policies")

    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "method_not_allowed_error"


# --- records ------------------------------------------------------------------------------------

RECORD_CONFIG = LuthienConfig.model_validate(
    {
        "policies": {
            "guard": {"class": "block_commands"},
            "shout": {"class": "all_caps"},
            "redact": {
                "class": "string_replace",
                "config": {"replacements": [{"find": "secret", "replace": "[redacted]"}]},
            },
        },
        "policy": "noop",
    }
)
DANGEROUS = ToolCall("toolu_danger", "Bash", {"command": "rm -rf /"})


@pytest.fixture
def server(make_luthien: LuthienFactory) -> LuthienServer:
    return make_luthien(config=RECORD_CONFIG, allow_policy_header=True)


def call_with(base_url: str, policy: str, **kwargs: Any) -> str:
    response = (
        anthropic_call(base_url, **kwargs) if policy == "noop" else _with_policy(base_url, policy, **kwargs)
    )
    assert response.status_code == 200, response.text
    return transaction_id(response)


def _with_policy(base_url: str, policy: str, **kwargs: Any) -> httpx.Response:
    headers = {"x-api-key": "sk-client-key", "x-luthien-policy": policy}
    if kwargs.get("session"):
        headers[CLAUDE_SESSION_HEADER] = kwargs["session"]
    body = {
        "model": kwargs.get("model", "claude-test"),
        "max_tokens": 100,
        "stream": kwargs.get("stream", False),
        "messages": [{"role": "user", "content": kwargs.get("prompt", "hi")}],
    }
    response = httpx.post(f"{base_url}/v1/messages", json=body, headers=headers, timeout=GUARD_S)
    response.read()
    return response


def listed(base_url: str, query: str = "") -> list[str]:
    response = httpx.get(f"{base_url}/api/transactions?{query}")
    assert response.status_code == 200, response.text
    return [item["transaction_id"] for item in response.json()["items"]]


def test_a_call_is_listed_with_its_summary(server: LuthienServer, fake: FakeProvider) -> None:
    fake.enqueue(JSONReply(anthropic_message("hello there")))
    tx = call_with(server.base_url, "noop", prompt="say hello")
    wait_for_record(server.base_url, tx)

    page = httpx.get(f"{server.base_url}/api/transactions").json()

    item = next(i for i in page["items"] if i["transaction_id"] == tx)
    assert (item["model"], item["policy"], item["status"], item["client_api"]) == (
        "claude-test",
        "noop",
        "ok",
        "anthropic_messages",
    )
    assert item["http_status"] == 200
    assert item["duration_ms"] is not None


def test_a_blocked_tool_call_is_recorded_with_both_versions_and_their_diff(
    server: LuthienServer, fake: FakeProvider
) -> None:
    fake.enqueue(JSONReply(anthropic_message("Cleaning up.", tool_calls=[DANGEROUS])))
    tx = call_with(server.base_url, "guard")

    record = wait_for_record(server.base_url, tx)

    assert record["status"] == "blocked"
    assert record["blocked"] is True
    original = record["response"]["original"]["content"]
    final = record["response"]["final"]["content"]
    assert original[1] == {
        "type": "tool_use",
        "id": "toolu_danger",
        "name": "Bash",
        "input": {"command": "rm -rf /"},
    }
    assert final[1]["type"] == "text"
    assert "Blocked tool call" in final[1]["text"]
    assert record["response"]["changed"] is True
    diff = {(c["path"], c["op"]) for c in record["response"]["diff"]}
    assert {
        ("/content/1/type", "changed"),
        ("/content/1/input", "removed"),
        ("/content/1/text", "added"),
    } <= diff
    assert record["request"]["changed"] is False
    decisions = [e for e in record["events"] if e["type"] == "commands.decision"]
    assert decisions[0]["data"]["blocked"] is True
    assert decisions[0]["policy"] == "guard"


def test_a_streamed_response_differs_exactly_where_string_replace_changed_it(
    server: LuthienServer, fake: FakeProvider
) -> None:
    fake.enqueue(StreamReply(anthropic_stream("the secret plan, kept secret", text_chunks=4)))
    tx = call_with(server.base_url, "redact", stream=True)

    record = wait_for_record(server.base_url, tx)

    assert record["streaming"] is True
    assert record["response"]["diff"] == [
        {
            "path": "/content/0/text",
            "op": "changed",
            "before": "the secret plan, kept secret",
            "after": "the [redacted] plan, kept [redacted]",
        }
    ]


def test_a_stored_body_comes_back_byte_for_byte(server: LuthienServer) -> None:
    raw = (
        b'{"model":   "claude-test", "max_tokens": 10,\n '
        b'"messages": [{"role": "user", "content": "exact \\u00e9"}]}'
    )
    response = httpx.post(
        f"{server.base_url}/v1/messages",
        content=raw,
        headers={"x-api-key": "k", "content-type": "application/json"},
    )
    tx = transaction_id(response)
    wait_for_record(server.base_url, tx)

    body = httpx.get(f"{server.base_url}/api/transactions/{tx}/body/original_request")
    final = httpx.get(f"{server.base_url}/api/transactions/{tx}/body/final_request")

    assert body.content == raw
    assert final.content == raw
    assert body.headers["content-type"] == "application/json"


def test_filters_select_the_matching_calls(server: LuthienServer, fake: FakeProvider) -> None:
    fake.enqueue(
        JSONReply(anthropic_message("plain words")),
        JSONReply(anthropic_message("loud words")),
        JSONReply(anthropic_message("Cleaning up.", tool_calls=[DANGEROUS])),
    )
    plain = call_with(server.base_url, "noop", model="model-a", session="session-a")
    loud = call_with(server.base_url, "shout", model="model-b")
    blocked = call_with(server.base_url, "guard", model="model-b")
    for tx in (plain, loud, blocked):
        wait_for_record(server.base_url, tx)

    assert listed(server.base_url) == [blocked, loud, plain]
    assert listed(server.base_url, "model=model-b") == [blocked, loud]
    assert listed(server.base_url, "policy=shout") == [loud]
    assert listed(server.base_url, "status=blocked,ok") == [blocked, plain]
    assert listed(server.base_url, "status=blocked&status=changed") == [blocked, loud]
    assert listed(server.base_url, "blocked=true") == [blocked]
    assert listed(server.base_url, "event_type=commands.decision") == [blocked]
    assert listed(server.base_url, "session=session-a") == [plain]
    assert listed(server.base_url, "q=LOUD%20WORDS") == [loud]
    assert listed(server.base_url, "since=2999-01-01T00:00:00Z") == []
    assert listed(server.base_url, "until=2000-01-01") == []


def test_pages_follow_the_cursor_without_repeats(server: LuthienServer) -> None:
    calls = [call_with(server.base_url, "noop") for _ in range(5)]
    for tx in calls:
        wait_for_record(server.base_url, tx)

    first = httpx.get(f"{server.base_url}/api/transactions?limit=2").json()
    second = httpx.get(f"{server.base_url}/api/transactions?limit=2&cursor={first['next_cursor']}").json()
    third = httpx.get(f"{server.base_url}/api/transactions?limit=2&cursor={second['next_cursor']}").json()

    ids = [i["transaction_id"] for page in (first, second, third) for i in page["items"]]
    assert ids == list(reversed(calls))
    assert third["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=not-a-cursor", "cursor"),
        ("limit=501", "limit"),
        ("limit=0", "limit"),
        ("status=finished", "status"),
        ("since=yesterday", "since"),
        ("blocked=perhaps", "blocked"),
        ("colour=red", "colour"),
    ],
)
def test_malformed_queries_are_a_400_naming_the_field(server: LuthienServer, query: str, field: str) -> None:
    for path in ("/api/transactions", "/api/export"):
        if path == "/api/export" and field in ("cursor", "limit"):
            continue
        response = httpx.get(f"{server.base_url}{path}?{query}")
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"] == {
            **response.json()["error"],
            "type": "invalid_request_error",
            "field": field,
        }


def test_unknown_ids_are_a_404(server: LuthienServer) -> None:
    for path in (
        "/api/transactions/no-such-id",
        "/api/transactions/no-such-id/body/original_request",
        "/api/sessions/no-such-session",
        "/api/transactions/" + "x" * 300,
    ):
        response = httpx.get(f"{server.base_url}{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found_error"


def test_an_unknown_body_name_is_a_404(server: LuthienServer) -> None:
    tx = call_with(server.base_url, "noop")
    wait_for_record(server.base_url, tx)

    response = httpx.get(f"{server.base_url}/api/transactions/{tx}/body/secrets")

    assert response.status_code == 404
    assert response.json()["error"]["field"] == "which"


def test_sessions_list_and_turns(server: LuthienServer, fake: FakeProvider) -> None:
    fake.enqueue(
        JSONReply(anthropic_message("first")),
        JSONReply(anthropic_message("Cleaning up.", tool_calls=[DANGEROUS])),
        JSONReply(anthropic_message("other")),
    )
    first = call_with(server.base_url, "noop", session="agent-1", prompt="start")
    second = call_with(server.base_url, "guard", session="agent-1", prompt="clean")
    other = call_with(server.base_url, "noop", session="agent-2")
    for tx in (first, second, other):
        wait_for_record(server.base_url, tx)

    sessions = httpx.get(f"{server.base_url}/api/sessions").json()["items"]
    session = httpx.get(f"{server.base_url}/api/sessions/agent-1").json()

    summary = next(s for s in sessions if s["session_id"] == "agent-1")
    assert (summary["transaction_count"], summary["blocked_count"]) == (2, 1)
    assert [s["session_id"] for s in sessions] == ["agent-2", "agent-1"]
    assert [t["transaction_id"] for t in session["turns"]] == [first, second]
    assert session["turns"][0]["prompt"][0]["text"] == "start"
    assert session["turns"][0]["texts"] == ["first"]
    blocked_call = session["turns"][1]["tool_calls"][0]
    assert (blocked_call["name"], blocked_call["blocked"]) == ("Bash", True)
    assert blocked_call["decisions"][0]["blocked"] is True
    assert "Blocked tool call" in session["turns"][1]["policy_texts"][0]


def test_export_streams_json_lines_for_a_filter(server: LuthienServer, fake: FakeProvider) -> None:
    fake.enqueue(
        JSONReply(anthropic_message("ok")), JSONReply(anthropic_message("x", tool_calls=[DANGEROUS]))
    )
    plain = call_with(server.base_url, "noop")
    blocked = call_with(server.base_url, "guard")
    for tx in (plain, blocked):
        wait_for_record(server.base_url, tx)

    everything = httpx.get(f"{server.base_url}/api/export")
    only_blocked = httpx.get(f"{server.base_url}/api/export?blocked=true")

    assert everything.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in everything.text.splitlines()]
    assert [line["transaction_id"] for line in lines] == [plain, blocked]
    assert [json.loads(line)["transaction_id"] for line in only_blocked.text.splitlines()] == [blocked]
    assert lines[1]["response"]["original"]["content"][1]["name"] == "Bash"
