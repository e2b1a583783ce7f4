"""Forwarded endpoints at their edges: bad input, failing policies, output no policy can read, limits.

Raw HTTP (httpx) where the SDKs would refuse to send the input; the official SDKs elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
import pytest

from luthien.call.events import CallEvent, MessageStart
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.policy import Policy, PolicyConfig, PolicyContext
from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    StreamReply,
    anthropic_error_body,
    anthropic_message,
    response_object,
    responses_stream,
)
from tests.support.records import open_sdks, records_after_stop
from tests.support.threaded_upstream import ThreadedUpstream

GUARD_S = 30.0
"""Deadlock guard; never reached when the code under test works."""
BATCH_PARAMS = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 8,
    "messages": [{"role": "user", "content": "Hi"}],
}


class FailingRequests(Policy[PolicyConfig]):
    """Fails on every request (fails closed: the default `on_error`)."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        raise RuntimeError("broken policy")


class FailingResponses(Policy[PolicyConfig]):
    """Fails on every response (fails closed)."""

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        raise RuntimeError("broken policy")


def with_policy(policy: type[Policy[Any]]) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {"policies": {"mine": {"class": f"{__name__}:{policy.__name__}"}}, "policy": "mine"}
    )


def test_bad_bodies_are_400_in_the_client_shape(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien()
    url = f"{server.base_url}/v1/responses/compact"
    not_json = httpx.post(url, content=b'{"model": ')
    not_object = httpx.post(url, content=b"[1, 2]")
    bad_resume = httpx.get(f"{server.base_url}/v1/responses/resp_1?stream=true&starting_after=x")

    for response in (not_json, not_object):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
    # noop inspects nothing: the stream is not replayed, and the upstream answers the query itself.
    assert bad_resume.status_code == 404
    assert [request.path for request in fake.requests] == ["/v1/responses/resp_1"]


def test_a_bad_resume_point_is_400_while_the_policy_inspects(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(with_policy(FailingResponses))
    response = httpx.get(f"{server.base_url}/v1/responses/resp_1?stream=true&starting_after=x")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake.requests == []


def test_a_policy_failing_on_a_request_refuses_the_call(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(with_policy(FailingRequests))
    compact = httpx.post(f"{server.base_url}/v1/responses/compact", json={"model": "gpt-5", "input": "Hi"})
    batch = httpx.post(
        f"{server.base_url}/v1/messages/batches",
        json={"requests": [{"custom_id": "a", "params": BATCH_PARAMS}]},
    )

    assert compact.status_code == 500
    assert compact.json()["error"]["code"] == "policy_error"
    assert batch.status_code == 500
    assert batch.json()["error"]["type"] == "api_error"
    assert fake.requests == []


def test_a_policy_failing_on_a_retrieved_response_refuses_it(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(with_policy(FailingResponses))
    body = response_object("Fine.")
    fake.enqueue(JSONReply(body), JSONReply(anthropic_message("Fine.")))
    created = httpx.post(f"{server.base_url}/v1/responses", json={"model": "gpt-5", "input": "Hi"})
    retrieved = httpx.get(f"{server.base_url}/v1/responses/{body['id']}")

    assert created.status_code == retrieved.status_code == 500  # retrieval fails as the live call did
    assert retrieved.json()["error"]["code"] == "policy_error"
    batch = httpx.post(
        f"{server.base_url}/v1/messages/batches",
        json={"requests": [{"custom_id": "a", "params": BATCH_PARAMS}]},
    ).json()
    results = httpx.get(f"{server.base_url}/v1/messages/batches/{batch['id']}/results")

    (line,) = results.content.splitlines()
    result = orjson.loads(line)["result"]
    assert result["type"] == "errored"
    assert result["error"]["error"]["type"] == "api_error"
    records = [record for record in records_after_stop(server) if record.endpoint.endswith("/results")]
    assert [record.status for record in records] == [TransactionStatus.ERROR]


def test_output_no_policy_can_read_is_refused(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(with_policy(FailingResponses))
    body = response_object("Hidden.")
    body["output"] = [{"id": "xx_1", "type": "mystery_call", "status": "completed", "payload": "rm -rf /"}]
    fake.enqueue(JSONReply(body))
    httpx.post(f"{fake.base_url}/v1/responses", json={"model": "gpt-5", "input": "Hi"})

    retrieved = httpx.get(f"{server.base_url}/v1/responses/{body['id']}")

    assert retrieved.status_code == 502
    assert retrieved.json()["error"]["code"] == "upstream_unavailable"


def test_unreadable_batch_results_are_refused_while_the_policy_inspects(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    inspecting = make_luthien(with_policy(FailingResponses))
    passing = make_luthien()
    # A request without a custom_id: the fake's result line has none either.
    batch = httpx.post(
        f"{fake.base_url}/v1/messages/batches", json={"requests": [{"params": BATCH_PARAMS}]}
    ).json()

    refused = httpx.get(f"{inspecting.base_url}/v1/messages/batches/{batch['id']}/results")
    passed = httpx.get(f"{passing.base_url}/v1/messages/batches/{batch['id']}/results")

    assert refused.status_code == 502
    assert refused.json()["error"]["type"] == "api_error"
    assert passed.status_code == 200
    assert orjson.loads(passed.content)["custom_id"] is None


@pytest.mark.parametrize(
    "line",
    [[1], {"custom_id": "a"}, {"custom_id": "a", "result": {"type": "succeeded"}}],
    ids=["array", "no-result", "no-message"],
)
def test_each_kind_of_unreadable_result_line_is_refused(
    make_luthien: LuthienFactory, fake: FakeProvider, line: Any
) -> None:
    server = make_luthien(with_policy(FailingResponses))
    batch = httpx.post(
        f"{fake.base_url}/v1/messages/batches",
        json={"requests": [{"custom_id": "a", "params": BATCH_PARAMS}]},
    ).json()
    fake.stored.batches[batch["id"]].results[:] = [line]

    response = httpx.get(f"{server.base_url}/v1/messages/batches/{batch['id']}/results")

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"


def test_forwarded_calls_count_against_the_concurrent_call_limit(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(max_concurrent_calls=1)
    fake.enqueue(HangReply())
    arrived = threading.Event()
    fake.respond_with(lambda request: (arrived.set(), None)[1])
    held = threading.Thread(
        target=lambda: httpx.post(f"{server.base_url}/v1/responses", json={"model": "gpt-5"}, timeout=GUARD_S)
    )
    held.start()
    try:
        assert arrived.wait(GUARD_S)
        refused = httpx.get(f"{server.base_url}/v1/responses/resp_1")
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "overloaded"
    finally:
        fake.reset()
        held.join(GUARD_S)


def test_a_streamed_response_is_stored_and_replayed(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien()
    fake.enqueue(StreamReply(responses_stream("Streamed answer.")))
    with open_sdks(server.base_url) as clients:
        with clients.openai.responses.stream(model="gpt-5", input="Hi") as stream:
            created = stream.get_final_response()
        with clients.openai.responses.retrieve(created.id, stream=True, starting_after=1) as replay:
            events = list(replay)
        items = clients.openai.responses.input_items.list(created.id, order="asc")

    assert events[0].sequence_number == 2
    assert events[-1].type == "response.completed"
    assert [item.type for item in items.data] == ["message"]
    missing = httpx.get(f"{server.base_url}/v1/chat/completions/chatcmpl-missing")
    missing_batch = httpx.get(
        f"{server.base_url}/v1/messages/batches/msgbatch_missing", headers={"anthropic-version": "2023-06-01"}
    )
    assert missing.status_code == missing_batch.status_code == 404
    assert missing_batch.json()["error"]["type"] == "not_found_error"


def test_errored_batch_results_pass_unchanged(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(with_policy(FailingResponses))
    error = anthropic_error_body("overloaded_error", "Overloaded")
    fake.enqueue(JSONReply(error, status=529))
    batch = httpx.post(
        f"{server.base_url}/v1/messages/batches",
        json={"requests": [{"custom_id": "a", "params": BATCH_PARAMS}]},
    ).json()

    results = httpx.get(f"{server.base_url}/v1/messages/batches/{batch['id']}/results")

    assert results.status_code == 200
    result = orjson.loads(results.content)["result"]
    assert result == {"type": "errored", "error": error}


def test_compaction_and_batches_count_against_the_rate_limits(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(rate_limit="2/minute")
    batch = {"requests": [{"custom_id": "a", "params": BATCH_PARAMS}]}
    first = httpx.post(f"{server.base_url}/v1/responses/compact", json={"model": "gpt-5", "input": "Hi"})
    second = httpx.post(f"{server.base_url}/v1/messages/batches", json=batch)
    third = httpx.post(f"{server.base_url}/v1/messages/batches", json=batch)
    retrieval = httpx.get(f"{server.base_url}/v1/messages/batches")  # not a model call: not counted

    assert first.status_code == second.status_code == retrieval.status_code == 200
    assert third.status_code == 429
    assert third.json()["error"]["type"] == "rate_limit_error"
    assert "retry-after" in third.headers


def test_ids_are_forwarded_percent_encoded(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien()
    response = httpx.get(f"{server.base_url}/v1/responses/resp%1D%3Fx")
    model = httpx.get(f"{server.base_url}/v1/models/accounts/fireworks%20x")

    assert response.status_code == model.status_code == 404
    assert [request.path for request in fake.requests] == [
        "/v1/responses/resp\x1d?x",
        "/v1/models/accounts/fireworks x",
    ]


COMPACTION = {"id": "cmp_1", "type": "compaction", "encrypted_content": "gAAAAB" + "x" * 32}
USER_MESSAGE = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix it."}]}
ASSISTANT_CALL = {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": '{"cmd":"rm"}'}


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


@pytest.mark.parametrize(
    ("content_type", "answer", "refused"),
    [
        ("application/json", _json({"output": [USER_MESSAGE, COMPACTION]}), False),
        ("application/json", _json({"output": [USER_MESSAGE, ASSISTANT_CALL, COMPACTION]}), True),
        ("application/json", _json({"output": [USER_MESSAGE, "text"]}), True),
        ("application/json", _json({"output": "not a list"}), True),
        ("application/json", _json([COMPACTION]), True),
        ("application/json", b"not JSON", True),
        ("text/event-stream", _json({"output": [COMPACTION]}), True),
    ],
    ids=[
        "input-and-compaction",
        "tool-call",
        "item-not-an-object",
        "output-not-a-list",
        "not-an-object",
        "not-json",
        "stream",
    ],
)
def test_a_compaction_holding_model_output_is_refused_while_the_policy_inspects(
    make_luthien: LuthienFactory,
    threaded_upstreams: list[ThreadedUpstream],
    content_type: str,
    answer: bytes,
    refused: bool,
) -> None:
    upstream = ThreadedUpstream(lambda path, body: (content_type, [answer]))
    threaded_upstreams.append(upstream)
    inspecting = make_luthien(with_policy(FailingResponses), openai_base_url=f"{upstream.base_url}/v1")
    passing = make_luthien(openai_base_url=f"{upstream.base_url}/v1")
    request = {"model": "gpt-5.1-codex", "input": [USER_MESSAGE]}

    checked = httpx.post(f"{inspecting.base_url}/v1/responses/compact", json=request)
    forwarded = httpx.post(f"{passing.base_url}/v1/responses/compact", json=request)

    assert checked.status_code == (502 if refused else 200)
    if refused:
        assert checked.json()["error"]["code"] == "upstream_unavailable"
    else:
        assert checked.content == answer
    assert forwarded.status_code == 200  # without a policy that inspects responses: forwarded
    if content_type == "application/json":
        assert forwarded.content == answer
