"""No road around the policy: model output reached by another road than its call is checked the same way.

With `tool_call_judge` active (the judge is a second fake provider), a dangerous tool call is blocked
when it comes back from a background response, a stored response retrieved as a body or a (resumed)
stream, a stored chat completion retrieved by id, or a message batch's results; an endpoint no policy
can check is refused unless the config allows it; Codex's compaction requests pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.policy import Policy, PolicyConfig, PolicyContext
from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    ToolCall,
    anthropic_message,
    chat_completion,
    response_object,
    sse_frame,
)
from tests.support.records import open_sdks, record_of, records_after_stop
from tests.support.servers import LuthienServer

JUDGE_MODEL = "judge-model"
BLOCKED_HEADLINE = "⛔ **Blocked tool call: `Bash`**"
RM = ToolCall("call_RmRfRootAbCdEfGhIjKlMnOp", "Bash", {"command": "rm -rf /"})
RM_ANTHROPIC = ToolCall("toolu_01RmRfRootAbCdEfGhIjKl", "Bash", {"command": "rm -rf /"})
PINNED = "pinned-model"
RESULTS_ENDPOINT = "/v1/messages/batches/{batch_id}/results"


def guarded(judge: FakeProvider, **extra: Any) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": judge.base_url}},
            "policies": {
                "guard": {
                    "class": "tool_call_judge",
                    "config": {"judge": {"upstream": "judge", "model": JUDGE_MODEL}},
                }
            },
            "policy": "guard",
            **extra,
        }
    )


def risky(judge: FakeProvider, times: int = 1) -> None:
    verdict = orjson.dumps({"probability": 0.93, "explanation": "Deletes the whole filesystem."}).decode()
    judge.enqueue(*(JSONReply(anthropic_message(verdict, model=JUDGE_MODEL)) for _ in range(times)))


@pytest.fixture
def server(make_luthien: LuthienFactory, judge: FakeProvider) -> LuthienServer:
    return make_luthien(guarded(judge))


def test_background_response_is_checked_on_retrieval(
    server: LuthienServer, fake: FakeProvider, judge: FakeProvider
) -> None:
    fake.enqueue(JSONReply(response_object("Cleaning up.", tool_calls=[RM])))
    risky(judge, times=3)
    with open_sdks(server.base_url) as clients:
        created = clients.openai.responses.create(model="gpt-5", input="Tidy up.", background=True)
        retrieved = clients.openai.responses.retrieve(created.id)
        record = record_of(server, clients.last_transaction)
        with clients.openai.responses.retrieve(created.id, stream=True) as stream:
            events = list(stream)
        with clients.openai.responses.retrieve(created.id, stream=True, starting_after=2) as stream:
            resumed = list(stream)

    assert created.status == "queued"
    assert "function_call" not in [item.type for item in retrieved.output]
    assert BLOCKED_HEADLINE in retrieved.output_text
    assert "rm -rf" not in retrieved.output_text.split("Arguments")[0]
    assert record.status is TransactionStatus.BLOCKED
    assert record.endpoint == "/v1/responses/{response_id}"
    final = events[-1]
    assert final.type == "response.completed"
    assert "function_call" not in [item.type for item in final.response.output]
    assert BLOCKED_HEADLINE in final.response.output_text
    # Resuming replays the checked stream: the client gets exactly what it had not received yet.
    assert [event.sequence_number for event in resumed] == [event.sequence_number for event in events[3:]]
    assert [event.type for event in resumed] == [event.type for event in events[3:]]
    assert len(judge.requests) == 3


def test_cancelled_background_response_is_checked(
    server: LuthienServer, fake: FakeProvider, judge: FakeProvider
) -> None:
    fake.enqueue(JSONReply(response_object("Cleaning up.", tool_calls=[RM])))
    risky(judge)
    with open_sdks(server.base_url) as clients:
        created = clients.openai.responses.create(model="gpt-5", input="Tidy up.", background=True)
        cancelled = clients.openai.responses.cancel(created.id)

    assert "function_call" not in [item.type for item in cancelled.output]
    assert BLOCKED_HEADLINE in cancelled.output_text


def test_stored_chat_completion_is_checked_when_retrieved(
    server: LuthienServer, fake: FakeProvider, judge: FakeProvider
) -> None:
    fake.enqueue(JSONReply(chat_completion("Cleaning up.", tool_calls=[RM])))
    risky(judge, times=2)
    with open_sdks(server.base_url) as clients:
        created = clients.openai.chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "Tidy up."}], store=True
        )
        retrieved = clients.openai.chat.completions.retrieve(created.id)

    for completion in (created, retrieved):
        message = completion.choices[0].message
        assert message.tool_calls is None or message.tool_calls == []
        assert BLOCKED_HEADLINE in (message.content or "")
    assert len(judge.requests) == 2


def test_batch_results_are_checked_and_recorded_per_item(
    server: LuthienServer, fake: FakeProvider, judge: FakeProvider
) -> None:
    fake.enqueue(
        JSONReply(anthropic_message("Cleaning up.", tool_calls=[RM_ANTHROPIC])),
        JSONReply(anthropic_message("Hello there.")),
    )
    risky(judge)
    requests: Any = [
        {
            "custom_id": name,
            "params": {
                "model": "claude-sonnet-4-6",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Request {name}"}],
            },
        }
        for name in ("risky", "harmless")
    ]
    with open_sdks(server.base_url) as clients:
        batch = clients.anthropic.messages.batches.create(requests=requests)
        results = {
            item.custom_id: item.result for item in clients.anthropic.messages.batches.results(batch.id)
        }

    assert results["risky"].type == results["harmless"].type == "succeeded"
    risky_message = results["risky"].message  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownVariableType]
    assert [block.type for block in risky_message.content] == ["text", "text"]  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    assert BLOCKED_HEADLINE in risky_message.content[1].text  # pyright: ignore[reportUnknownMemberType]
    assert risky_message.stop_reason == "end_turn"  # pyright: ignore[reportUnknownMemberType]
    assert results["harmless"].message.content[0].text == "Hello there."  # pyright: ignore
    items = [record for record in records_after_stop(server) if record.endpoint == RESULTS_ENDPOINT]
    by_status = sorted(record.status.value for record in items)
    assert by_status == sorted([TransactionStatus.BLOCKED.value, TransactionStatus.OK.value])
    assert {orjson.loads(record.original_request)["custom_id"] for record in items} == {"risky", "harmless"}


class PinModel(Policy[PolicyConfig]):
    """Sends every request to one model (a request-changing policy)."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        return request.with_model(PINNED)


def test_batch_requests_and_compaction_go_through_on_request(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    config = LuthienConfig.model_validate(
        {"policies": {"pin": {"class": f"{__name__}:PinModel"}}, "policy": "pin"}
    )
    server = make_luthien(config)
    params = {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
    body = {"requests": [{"custom_id": "a", "params": params}, {"custom_id": "b", "params": params}]}
    bad = {"requests": [{"custom_id": "a", "params": params}, {"custom_id": "b", "params": {"model": "m"}}]}
    created = httpx.post(f"{server.base_url}/v1/messages/batches", json=body)
    refused = httpx.post(f"{server.base_url}/v1/messages/batches", json=bad)
    empty = httpx.post(f"{server.base_url}/v1/messages/batches", json={"requests": []})
    compacted = httpx.post(f"{server.base_url}/v1/responses/compact", json={"model": "gpt-5", "input": "Hi"})

    assert created.status_code == compacted.status_code == 200
    batch_request, compact_request = fake.requests
    assert [item["params"]["model"] for item in batch_request.json()["requests"]] == [PINNED, PINNED]
    assert compact_request.json()["model"] == PINNED
    assert refused.status_code == empty.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"


def test_unchecked_endpoint_is_refused_unless_allowed(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider
) -> None:
    refusing = make_luthien(guarded(judge))
    allowing = make_luthien(guarded(judge, allow_unchecked=["/v1/chat/completions"]))

    with open_sdks(refusing.base_url) as clients, pytest.raises(openai.PermissionDeniedError) as refused:
        clients.openai.chat.completions.list()
    assert refused.value.status_code == 403
    assert refused.value.body["type"] == "permission_error"  # pyright: ignore[reportIndexIssue, reportOptionalSubscript, reportCallIssue, reportArgumentType]
    assert fake.requests == []
    with open_sdks(allowing.base_url) as clients:
        assert clients.openai.chat.completions.list().data == []
    assert [request.path for request in fake.requests] == ["/v1/chat/completions"]


def test_codex_compaction_passes_with_the_active_policy(
    server: LuthienServer, fake: FakeProvider, judge: FakeProvider
) -> None:
    compaction = {"id": "cmp_01", "type": "compaction", "encrypted_content": "gAAAAB" + "x" * 64}
    completed = response_object("", model="gpt-5.1-codex")
    completed["output"] = [compaction]
    created = {**completed, "status": "in_progress", "output": []}
    item = {"output_index": 0, "item": compaction}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": created}),
        ("response.output_item.added", item),
        ("response.output_item.done", item),
        ("response.completed", {"response": completed}),
    ]
    frames = [
        sse_frame(name, {"type": name, "sequence_number": number, **data})
        for number, (name, data) in enumerate(events)
    ]
    fake.enqueue(StreamReply(frames))
    history: Any = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix the bug."}]},
        {"type": "compaction_trigger"},
    ]
    with open_sdks(server.base_url) as clients:
        compacted = clients.openai.responses.compact(model="gpt-5.1-codex", input=history[:1])
        with clients.openai.responses.stream(model="gpt-5.1-codex", input=history, store=False) as stream:
            final = stream.get_final_response()

    assert [item.type for item in compacted.output] == ["message", "compaction"]
    assert [item.type for item in final.output] == ["compaction"]
    assert [request.path for request in fake.requests] == ["/v1/responses/compact", "/v1/responses"]
    assert judge.requests == []


def test_codex_compaction_request_as_recorded_passes(
    server: LuthienServer, fake: FakeProvider, judge: FakeProvider
) -> None:
    recorded = orjson.loads((Path(__file__).parent / "data" / "codex_request.json").read_bytes())
    body = {
        key: recorded[key]
        for key in ("model", "instructions", "input", "tools", "parallel_tool_calls", "reasoning")
    }

    response = httpx.post(
        f"{server.base_url}/v1/responses/compact", json=body, headers={"authorization": "Bearer sk-client"}
    )

    assert response.status_code == 200
    assert response.json()["output"][-1]["type"] == "compaction"
    (forwarded,) = fake.requests
    assert forwarded.body == orjson.dumps(body)  # untouched by a policy that changes nothing
    assert judge.requests == []
