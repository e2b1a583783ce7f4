"""Human approval from every place a person decides: another replica, the web UI's form, the CLI.

Two replicas on one Redis: a call held on replica A is listed and approved on replica B. The UI and
the CLI are driven against a real server while a call is held in a client thread.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import httpx
import pytest
import redis

from luthien.approvals.redis import KEY_SUFFIX
from luthien.cli import main
from luthien.events.redis import CONTROL_SUFFIX
from luthien.policies.human_approval import HumanApprovalConfig, HumanApprovalPolicy
from luthien.testing.run import run_policy_sync
from luthien.testing.streams import model_reply
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, ToolCall, anthropic_message
from tests.support.approvals import ADMIN_KEY, AUTH, GUARD_S, approval_config, decide, pending, wait_pending
from tests.support.servers import LuthienServer

REDIS_URL = "redis://127.0.0.1:6379/0"
LS = ToolCall("toolu_01ListFiles", "Bash", {"command": "ls -la"})
USER = [{"role": "user", "content": "look around"}]


def call_in_thread(pool: ThreadPoolExecutor, server: LuthienServer) -> Any:
    client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S * 3)
    return pool.submit(lambda: client.messages.create(model="m", max_tokens=10, messages=USER))  # pyright: ignore[reportArgumentType]


@pytest.fixture
def stream_key() -> Iterator[str]:
    key = f"luthien-test:approvals:{uuid.uuid4()}"
    yield key
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = [key, key + CONTROL_SUFFIX, *client.scan_iter(f"{key}{KEY_SUFFIX}*")]
        client.delete(*keys)


def test_a_call_held_on_one_replica_is_approved_on_another(
    make_luthien: LuthienFactory, fake: FakeProvider, stream_key: str
) -> None:
    options = {"redis_url": REDIS_URL, "events_stream_key": stream_key, "admin_key": ADMIN_KEY}
    replica_a = make_luthien(approval_config(), **options)
    replica_b = make_luthien(approval_config(), **options)
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[LS])))

    with ThreadPoolExecutor(1) as pool:
        future = call_in_thread(pool, replica_a)
        (item,) = wait_pending(replica_b.base_url)
        assert [entry["id"] for entry in pending(replica_a.base_url)] == [item["id"]]
        response = decide(replica_b.base_url, item["id"], "approve", "fine from B")
        message = future.result(GUARD_S)
        again = decide(replica_a.base_url, item["id"], "deny")

    assert response.status_code == 200
    assert again.status_code == 409
    assert any(block.type == "tool_use" for block in message.content)
    decided = replica_a.app.state.gateway.activity.events(type="approval.decided")
    assert [(event.data["decision"], event.data["by"], event.data["reason"]) for event in decided] == [
        ("approve", "admin-key", "fine from B")
    ]
    assert pending(replica_b.base_url) == []
    assert httpx.get(f"{replica_b.base_url}/api/approvals", headers=AUTH).json()["shared"] is True


def csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def test_the_page_lists_a_pending_call_and_its_form_denies_it(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(approval_config())
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[LS])))

    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=server.base_url) as browser:
        future = call_in_thread(pool, server)
        (item,) = wait_pending(server.base_url, headers={})
        page = browser.get("/ui/approvals")
        assert page.status_code == 200
        for shown in (item["id"], "ls -la", "look around"):
            assert shown in page.text
        token = csrf(page)
        same_origin = {"origin": server.base_url, "sec-fetch-site": "same-origin"}
        bad = browser.post(
            f"/ui/approvals/{item['id']}",
            data={"decision": "maybe", "csrf_token": token},
            headers=same_origin,
        )
        assert bad.status_code == 400
        unknown = browser.post(
            "/ui/approvals/apr_nobody", data={"decision": "deny", "csrf_token": token}, headers=same_origin
        )
        assert unknown.status_code == 404
        form = {"decision": "deny", "reason": "not today", "csrf_token": token}
        denied = browser.post(f"/ui/approvals/{item['id']}", data=form, headers=same_origin)
        assert denied.status_code == 303
        assert denied.headers["location"] == f"/ui/approvals?decided={item['id']}"
        late = browser.post(f"/ui/approvals/{item['id']}", data=form, headers=same_origin)
        assert late.status_code == 409
        message = future.result(GUARD_S)
        after = browser.get(f"/ui/approvals?decided={item['id']}")

    text = "".join(block.text for block in message.content if block.type == "text")
    assert "not today" in text
    assert "No tool call is waiting" in after.text
    (decided,) = server.app.state.gateway.activity.events(type="approval.decided")
    assert decided.data["by"] == "loopback"


def test_the_cli_lists_approves_and_denies(
    make_luthien: LuthienFactory, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_luthien(approval_config(), admin_key=ADMIN_KEY)
    url = ["--url", server.base_url, "--admin-key", ADMIN_KEY]
    assert main(["approvals", "list", *url]) == 0
    assert "No tool call is waiting" in capsys.readouterr().out

    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[LS])))
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[LS])))
    with ThreadPoolExecutor(2) as pool:
        first = call_in_thread(pool, server)
        second = call_in_thread(pool, server)
        one, two = wait_pending(server.base_url, count=2)
        assert main(["approvals", *url]) == 0
        listing = capsys.readouterr().out
        for shown in (one["id"], two["id"], "ls -la"):
            assert shown in listing
        assert main(["approvals", "list", "--json", *url]) == 0
        assert one["id"] in capsys.readouterr().out
        assert main(["approvals", "approve", one["id"], *url]) == 0
        assert main(["approvals", "deny", two["id"], "--reason", "from the terminal", *url]) == 0
        replies = [first.result(GUARD_S), second.result(GUARD_S)]
    out = capsys.readouterr().out
    assert f"{one['id']}: approve (by admin-key)" in out
    assert f"{two['id']}: deny (by admin-key)" in out
    texts = ["".join(b.text for b in reply.content if b.type == "text") for reply in replies]
    assert sum("from the terminal" in text for text in texts) == 1

    assert main(["approvals", "approve", one["id"], *url]) == 1  # 409
    assert "already decided" in capsys.readouterr().err
    assert main(["approvals", "approve", *url]) == 2
    assert main(["approvals", "list", "--url", server.base_url, "--admin-key", "wrong"]) == 1
    assert main(["approvals", "list", "--url", "http://127.0.0.1:9"]) == 2


def test_without_an_approvals_service_a_call_is_denied() -> None:
    policy = HumanApprovalPolicy(HumanApprovalConfig(), "approve")
    reply = model_reply("anthropic", "Looking.", tool_calls=[LS])
    run = run_policy_sync(policy, reply)
    assert "fail-secure" in run.text
    assert run.tool_calls == []
