"""Human approval through a real server: held tool calls, decisions over the admin API, timeouts.

The client runs in a thread; the test waits (polling `GET /api/approvals`, guarded by `GUARD_S`)
for the call to be pending, decides it, and reads what the client got. Keep-alives are proved the
way the judge's are: the decision is made only once the client has seen two of them.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from luthien.approvals.model import DECIDED_ACTIVITY, REQUESTED_ACTIVITY
from luthien.config import ConfigError, LuthienConfig
from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
    chat_stream,
)
from tests.support.approvals import (
    ADMIN_KEY,
    AUTH,
    GUARD_S,
    approval_config,
    decide,
    pending,
    wait_pending,
)
from tests.support.keepalives import KEEPALIVE_S, KEEPALIVES, WatchingTransport
from tests.support.polling import wait_until
from tests.support.records import record_of
from tests.support.servers import LuthienServer

LS = ToolCall("toolu_01ListFiles", "Bash", {"command": "ls -la"})
RM = ToolCall("toolu_01Remove", "Bash", {"command": "rm -rf /srv/data"})
USER = [{"role": "user", "content": "tidy up"}]
SESSION = "session-approvals-1"


def client(server: LuthienServer, transport: httpx2.HTTPTransport | None = None) -> anthropic.Anthropic:
    http = httpx2.Client(transport=transport) if transport is not None else None
    return anthropic.Anthropic(
        base_url=server.base_url,
        api_key="k",
        max_retries=0,
        timeout=GUARD_S * 3,
        http_client=http,
        default_headers={"x-claude-code-session-id": SESSION},
    )


def activity(server: LuthienServer, type: str) -> list[dict[str, Any]]:
    return [event.data for event in server.app.state.gateway.activity.events(type=type)]


def test_an_approved_call_reaches_the_client_and_pings_keep_the_stream_alive(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(approval_config(), admin_key=ADMIN_KEY, keepalive_interval_s=KEEPALIVE_S)
    fake.enqueue(StreamReply(anthropic_stream("Let me look.", tool_calls=[LS], ping=False)))
    seen = threading.Event()
    transport = WatchingTransport(KEEPALIVES["anthropic"], seen)
    texts: list[str] = []

    def call() -> anthropic.types.Message:
        with client(server, transport).messages.stream(
            model="claude-sonnet-4-6", max_tokens=10, messages=USER
        ) as stream:  # pyright: ignore[reportArgumentType]
            for text in stream.text_stream:
                texts.append(text)
            return stream.get_final_message()

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(call)
        (item,) = wait_pending(server.base_url)
        assert seen.wait(GUARD_S)  # pings while the call waits
        assert "".join(texts) == "Let me look."  # text before the call was not held
        response = decide(server.base_url, item["id"], "approve", "looks fine")
        message = future.result(GUARD_S)

    assert response.status_code == 200, response.text
    assert response.json()["by"] == "admin-key"
    assert item["tool_call"]["name"] == "Bash"
    assert item["session_id"] == SESSION
    assert item["verdict"] is None
    assert item["context"] == [{"role": "user", "text": "tidy up"}]
    assert item["expires_at"] > item["created_at"]
    tool_calls = [block for block in message.content if block.type == "tool_use"]
    assert [(call.name, call.input) for call in tool_calls] == [("Bash", {"command": "ls -la"})]
    assert message.stop_reason == "tool_use"
    assert pending(server.base_url) == []
    (decided,) = activity(server, DECIDED_ACTIVITY)
    assert (decided["decision"], decided["by"], decided["reason"]) == ("approve", "admin-key", "looks fine")
    (requested,) = activity(server, REQUESTED_ACTIVITY)
    assert requested["approval_id"] == item["id"]


def test_a_denied_call_is_replaced_by_the_reason(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(approval_config(), admin_key=ADMIN_KEY)
    fake.enqueue(JSONReply(anthropic_message("Cleaning.", tool_calls=[RM])))

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: client(server).messages.create(model="m", max_tokens=10, messages=USER))  # pyright: ignore[reportArgumentType]
        (item,) = wait_pending(server.base_url)
        response = decide(server.base_url, item["id"], "deny", "Never delete /srv/data.")
        message = future.result(GUARD_S)
        again = decide(server.base_url, item["id"], "approve")

    assert response.status_code == 200
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "approval_id"
    text = "".join(block.text for block in message.content if block.type == "text")
    assert "Never delete /srv/data." in text
    assert "Blocked tool call" in text
    assert not [block for block in message.content if block.type == "tool_use"]
    assert message.stop_reason == "end_turn"
    record = record_of(server, item["transaction_id"])
    assert record.status is TransactionStatus.BLOCKED
    (decided,) = [event.data for event in record.events if event.type == DECIDED_ACTIVITY]
    assert (decided["decision"], decided["by"]) == ("deny", "admin-key")


def test_no_decision_within_timeout_denies(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(approval_config(timeout_s=0.05))
    fake.enqueue(StreamReply(chat_stream("Cleaning.", tool_calls=[RM])))
    openai_client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="k", max_retries=0)

    chunks = list(openai_client.chat.completions.create(model="gpt-5", messages=USER, stream=True))  # pyright: ignore[reportArgumentType]

    text = "".join(choice.delta.content or "" for chunk in chunks for choice in chunk.choices)
    assert "Not approved" in text
    assert not [
        call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls or []
    ]
    (decided,) = activity(server, DECIDED_ACTIVITY)
    assert (decided["decision"], decided["by"]) == ("deny", "timeout")
    assert pending(server.base_url, {}) == []


def test_the_api_refuses_bad_input(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(approval_config(), admin_key=ADMIN_KEY)
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[LS])))
    url = server.base_url

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: client(server).messages.create(model="m", max_tokens=10, messages=USER))  # pyright: ignore[reportArgumentType]
        (item,) = wait_pending(url)
        endpoint = f"{url}/api/approvals/{item['id']}"
        cases: list[tuple[Any, str | None]] = [
            ({"reason": "x"}, "decision"),
            ({"decision": "maybe"}, "decision"),
            ({"decision": "deny", "reason": 5}, "reason"),
            ({"decision": "deny", "reason": "x" * 3000}, "reason"),
            ({"decision": "deny", "by": "me"}, "by"),
            (["deny"], None),
        ]
        for body, field in cases:
            response = httpx.post(endpoint, json=body, headers=AUTH)
            assert response.status_code == 400, body
            assert response.json()["error"].get("field") == field
        assert httpx.post(endpoint, content=b"{nope", headers=AUTH).status_code == 400
        assert httpx.post(endpoint, content=b"x" * 20_000, headers=AUTH).status_code == 413
        unknown = decide(url, "apr_unknown", "approve")
        assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "approval_id")
        assert decide(url, "x" * 100, "approve").status_code == 404
        assert decide(url, item["id"], "approve", headers={}).status_code == 401
        cross_site = httpx.post(
            endpoint,
            json={"decision": "approve"},
            headers={**AUTH, "origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        )
        assert cross_site.status_code == 403
        assert [entry["id"] for entry in pending(url)] == [item["id"]]  # nothing was decided
        assert decide(url, item["id"], "approve").status_code == 200
        future.result(GUARD_S)


def test_the_openapi_document_has_the_approvals_endpoints(make_luthien: LuthienFactory) -> None:
    server = make_luthien(approval_config())
    document = httpx.get(f"{server.base_url}/api/openapi.json").json()
    assert "get" in document["paths"]["/api/approvals"]
    post = document["paths"]["/api/approvals/{approval_id}"]["post"]
    assert {"400", "404", "409"} <= set(post["responses"])


def judge_config(judge: FakeProvider, **judge_options: Any) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": judge.base_url}},
            "policies": {
                "judge": {
                    "class": "tool_call_judge",
                    "config": {
                        "judge": {"upstream": "judge", "model": "judge-model"},
                        "threshold": 0.5,
                        "escalate_at": 0.3,
                        "approval": {"timeout_s": GUARD_S * 3},
                        **judge_options,
                    },
                }
            },
            "policy": "judge",
        }
    )


@pytest.fixture
def judge() -> Any:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


def verdict_reply(probability: float, explanation: str) -> JSONReply:
    return JSONReply(anthropic_message(f'{{"probability": {probability}, "explanation": "{explanation}"}}'))


@pytest.mark.parametrize(("probability", "outcome"), [(0.2, "allowed"), (0.9, "blocked")])
def test_outside_the_band_the_judge_decides_alone(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, probability: float, outcome: str
) -> None:
    server = make_luthien(judge_config(judge))
    judge.enqueue(verdict_reply(probability, "Judged."))
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[RM])))

    message = client(server).messages.create(model="m", max_tokens=10, messages=USER)  # pyright: ignore[reportArgumentType]

    has_call = any(block.type == "tool_use" for block in message.content)
    assert has_call is (outcome == "allowed")
    assert activity(server, REQUESTED_ACTIVITY) == []


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_the_uncertain_band_goes_to_a_person_with_the_verdict(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider, decision: str
) -> None:
    server = make_luthien(judge_config(judge))
    judge.enqueue(verdict_reply(0.4, "Deletes data, maybe on purpose."))
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[RM])))

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: client(server).messages.create(model="m", max_tokens=10, messages=USER))  # pyright: ignore[reportArgumentType]
        (item,) = wait_pending(server.base_url, headers={})
        assert decide(server.base_url, item["id"], decision, "checked", headers={}).status_code == 200
        message = future.result(GUARD_S)

    assert item["verdict"] == {
        "probability": 0.4,
        "explanation": "Deletes data, maybe on purpose.",
        "threshold": 0.5,
        "escalate_at": 0.3,
    }
    has_call = any(block.type == "tool_use" for block in message.content)
    assert has_call is (decision == "approve")
    (decided,) = activity(server, DECIDED_ACTIVITY)
    assert (decided["decision"], decided["by"]) == (decision, "loopback")


def test_escalate_at_must_be_below_the_threshold(make_luthien: LuthienFactory, judge: FakeProvider) -> None:
    with pytest.raises(ConfigError) as raised:
        make_luthien(judge_config(judge, escalate_at=0.6))
    assert raised.value.field == "policies.judge.config"


def test_a_webhook_hears_of_each_pending_call(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider
) -> None:
    hook = f"{judge.base_url}/hooks/approvals"
    server = make_luthien(
        approval_config(approval_webhook_url=hook, review_url="https://luthien.example/ui/approvals")
    )
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[LS])))

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: client(server).messages.create(model="m", max_tokens=10, messages=USER))  # pyright: ignore[reportArgumentType]
        (item,) = wait_pending(server.base_url, headers={})
        wait_until(lambda: any(request.path == "/hooks/approvals" for request in judge.requests))
        decide(server.base_url, item["id"], "approve", headers={})
        future.result(GUARD_S)

    (request,) = [request for request in judge.requests if request.path == "/hooks/approvals"]
    body = request.json()
    assert item["id"] in body["text"]
    assert "Bash" in body["text"]
    assert body["approval"]["id"] == item["id"]
    assert body["url"] == "https://luthien.example/ui/approvals"


def test_a_failing_webhook_never_blocks_the_call(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(approval_config(approval_webhook_url="http://127.0.0.1:9/unreachable"))
    fake.enqueue(JSONReply(anthropic_message("", tool_calls=[LS])))

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: client(server).messages.create(model="m", max_tokens=10, messages=USER))  # pyright: ignore[reportArgumentType]
        (item,) = wait_pending(server.base_url, headers={})
        decide(server.base_url, item["id"], "approve", headers={})
        message = future.result(GUARD_S)

    assert any(block.type == "tool_use" for block in message.content)
    wait_until(lambda: server.app.state.gateway.approvals.webhook.failed == 1)


def test_in_a_chain_only_what_earlier_policies_let_through_waits(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    config = LuthienConfig.model_validate(
        {
            "policies": {
                "commands": {"class": "block_commands"},
                "approve": {"class": "human_approval", "config": {"timeout_s": GUARD_S * 3}},
                "guarded": {"class": "chain", "config": {"policies": ["commands", "approve"]}},
            },
            "policy": "guarded",
        }
    )
    server = make_luthien(config)
    fake.enqueue(
        JSONReply(
            anthropic_message("", tool_calls=[ToolCall("toolu_rm", "Bash", {"command": "rm -rf ~"}), LS])
        )
    )

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: client(server).messages.create(model="m", max_tokens=10, messages=USER))  # pyright: ignore[reportArgumentType]
        (item,) = wait_pending(server.base_url, headers={})
        assert decide(server.base_url, item["id"], "approve", headers={}).status_code == 200
        message = future.result(GUARD_S)

    assert "ls -la" in item["tool_call"]["arguments"]
    assert item["policy"] == "approve"
    calls = [block for block in message.content if block.type == "tool_use"]
    assert [call.input for call in calls] == [{"command": "ls -la"}]
