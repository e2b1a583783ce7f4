"""Every forwarded endpoint through a real Luthien server, with the official SDKs (no policy: noop).

The fake provider remembers what was created (stored responses, stored chat completions, message
batches), so each endpoint is exercised the way an SDK user would: create, then read back, update,
cancel, delete. Each call is authenticated, carries a transaction id, and is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from luthien.config import LuthienConfig
from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, ToolCall, anthropic_message, response_object
from tests.support.records import Sdks, open_sdks, record_of
from tests.support.servers import LuthienServer

CALL = ToolCall("call_ListFilesAbCdEfGhIjKlMn", "shell", {"command": "ls"})


@pytest.fixture
def sdks(luthien: LuthienServer) -> Iterator[Sdks]:
    with open_sdks(luthien.base_url) as clients:
        yield clients


def test_stored_prompt_without_model_goes_to_the_default_upstream(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    # A catch-all route to an unreachable upstream: a call without a model must not match it.
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"elsewhere": {"format": "openai", "base_url": "http://127.0.0.1:9/v1"}},
            "routes": [{"model": "*", "upstream": "elsewhere"}],
            "policies": {"caps": {"class": "all_caps"}},
            "policy": "caps",
        }
    )
    server = make_luthien(config)
    fake.enqueue(JSONReply(response_object("from the template", model="gpt-5")))
    with open_sdks(server.base_url) as clients:
        response = clients.openai.responses.create(prompt={"id": "pmpt_abc", "version": "2"}, input="Hi")
        record = record_of(server, clients.last_transaction)

    assert response.output_text == "FROM THE TEMPLATE"  # the policy saw it like any other call
    (request,) = fake.requests
    assert request.path == "/v1/responses"
    assert "model" not in request.json()
    assert request.json()["prompt"] == {"id": "pmpt_abc", "version": "2"}
    assert record.upstream == "openai"
    assert record.model is None
    assert record.status is TransactionStatus.CHANGED


def test_a_model_that_is_not_a_string_is_refused(luthien: LuthienServer, fake: FakeProvider) -> None:
    response = httpx.post(f"{luthien.base_url}/v1/responses", json={"model": 5, "input": "Hi"})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake.requests == []


def test_single_models_in_both_apis(sdks: Sdks, luthien: LuthienServer) -> None:
    claude = sdks.anthropic.models.retrieve("claude-sonnet-4-6")
    gpt = sdks.openai.models.retrieve("gpt-5")

    assert claude.id == "claude-sonnet-4-6"
    assert claude.display_name == "Claude Sonnet 4.6"
    assert gpt.id == "gpt-5"
    assert gpt.owned_by == "system"
    assert record_of(luthien, sdks.last_transaction).endpoint == "/v1/models/{model_id:path}"
    with pytest.raises(openai.NotFoundError):
        sdks.openai.models.retrieve("no-such-model")


def test_deleting_a_fine_tuned_model(sdks: Sdks, luthien: LuthienServer, fake: FakeProvider) -> None:
    # An endpoint of openai-python's own test_models.py: it answered 405 before it was forwarded.
    deleted = sdks.openai.models.delete("ft:gpt-4o-mini:acme:suffix:abc123")

    assert deleted.id == "ft:gpt-4o-mini:acme:suffix:abc123"
    assert deleted.deleted is True
    (request,) = fake.requests
    assert request.method == "DELETE"
    assert request.path == "/v1/models/ft:gpt-4o-mini:acme:suffix:abc123"
    record = record_of(luthien, sdks.last_transaction)
    assert record.endpoint == "/v1/models/{model_id:path}"
    assert record.status is TransactionStatus.OK
    with pytest.raises(openai.NotFoundError):
        sdks.openai.models.delete("gpt-5")


def test_input_tokens_and_compaction(sdks: Sdks, luthien: LuthienServer, fake: FakeProvider) -> None:
    count = sdks.openai.responses.input_tokens.count(model="gpt-5", input="Count these words please.")
    compacted = sdks.openai.responses.compact(
        model="gpt-5.1-codex",
        input=[{"role": "user", "content": "Fix the bug."}, {"role": "assistant", "content": "Done."}],
    )

    assert count.input_tokens > 0
    assert compacted.object == "response.compaction"
    assert [item.type for item in compacted.output] == ["message", "compaction"]
    assert [request.path for request in fake.requests] == [
        "/v1/responses/input_tokens",
        "/v1/responses/compact",
    ]
    record = record_of(luthien, sdks.last_transaction)
    assert record.endpoint == "/v1/responses/compact"
    assert record.model == "gpt-5.1-codex"
    assert record.status is TransactionStatus.OK


def test_stored_response_lifecycle(sdks: Sdks, luthien: LuthienServer) -> None:
    created = sdks.openai.responses.create(model="gpt-5", input="Say hello.")

    retrieved = sdks.openai.responses.retrieve(created.id)
    with sdks.openai.responses.retrieve(created.id, stream=True) as stream:
        events = list(stream)
    items = sdks.openai.responses.input_items.list(created.id)
    sdks.openai.responses.delete(created.id)

    assert retrieved.id == created.id
    assert retrieved.output_text == created.output_text
    assert events[-1].type == "response.completed"
    assert [item.type for item in items.data] == ["message"]
    record = record_of(luthien, sdks.last_transaction)
    assert record.endpoint == "/v1/responses/{response_id}"
    assert record.http_status == 200
    with pytest.raises(openai.NotFoundError):
        sdks.openai.responses.retrieve(created.id)


def test_background_response_is_retrieved_and_cancelled(sdks: Sdks, fake: FakeProvider) -> None:
    fake.enqueue(JSONReply(response_object("Background work done.")))
    created = sdks.openai.responses.create(model="gpt-5", input="Work.", background=True)

    assert created.status == "queued"
    assert sdks.openai.responses.retrieve(created.id).output_text == "Background work done."
    assert sdks.openai.responses.cancel(created.id).id == created.id


def test_cancelling_a_foreground_response_is_the_upstream_error(sdks: Sdks) -> None:
    created = sdks.openai.responses.create(model="gpt-5", input="Hi.")

    with pytest.raises(openai.BadRequestError):
        sdks.openai.responses.cancel(created.id)


def test_stored_chat_completions(sdks: Sdks, luthien: LuthienServer) -> None:
    created = sdks.openai.chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "Hello?"}], store=True
    )

    listed = sdks.openai.chat.completions.list(model="gpt-5")
    retrieved = sdks.openai.chat.completions.retrieve(created.id)
    updated = sdks.openai.chat.completions.update(created.id, metadata={"topic": "greeting"})
    messages = sdks.openai.chat.completions.messages.list(created.id)
    deleted = sdks.openai.chat.completions.delete(created.id)

    assert created.id in [completion.id for completion in listed.data]
    assert retrieved.choices[0].message.content == created.choices[0].message.content
    assert updated.metadata == {"topic": "greeting"}
    assert [message.content for message in messages.data] == ["Hello?"]
    assert deleted.deleted is True
    assert record_of(luthien, sdks.last_transaction).endpoint == "/v1/chat/completions/{completion_id}"


def test_message_batches(sdks: Sdks, luthien: LuthienServer, fake: FakeProvider) -> None:
    fake.enqueue(
        JSONReply(anthropic_message("First answer.")), JSONReply(anthropic_message("Second answer."))
    )
    requests = [
        {
            "custom_id": name,
            "params": {
                "model": "claude-sonnet-4-6",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Question {name}"}],
            },
        }
        for name in ("one", "two")
    ]
    created = sdks.anthropic.messages.batches.create(requests=requests)  # pyright: ignore[reportArgumentType]

    retrieved = sdks.anthropic.messages.batches.retrieve(created.id)
    listed = sdks.anthropic.messages.batches.list()
    results = list(sdks.anthropic.messages.batches.results(created.id))
    cancelled = sdks.anthropic.messages.batches.cancel(created.id)
    deleted = sdks.anthropic.messages.batches.delete(created.id)

    assert created.processing_status == "in_progress"
    assert retrieved.processing_status == "ended"
    # SDKs fetch `results_url` as it is: it points at Luthien, never around it.
    assert retrieved.results_url == f"{luthien.base_url}/v1/messages/batches/{created.id}/results"
    assert [batch.results_url for batch in listed.data] == [retrieved.results_url]
    assert cancelled.results_url == retrieved.results_url
    texts = {
        result.custom_id: result.result.message.content[0].text  # pyright: ignore
        for result in results
    }
    assert texts == {"one": "First answer.", "two": "Second answer."}
    assert deleted.type == "message_batch_deleted"
    assert not any(request.path.endswith("/results") and request.method != "GET" for request in fake.requests)


def test_forwarded_endpoints_check_the_proxy_key(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(auth_mode="proxy", api_key="sk-luthien-proxy", openai_api_key="sk-upstream")
    with (
        open_sdks(server.base_url, openai_key="sk-wrong") as clients,
        pytest.raises(openai.AuthenticationError),
    ):
        clients.openai.responses.retrieve("resp_abc")
    with (
        open_sdks(server.base_url, anthropic_key="sk-wrong") as clients,
        pytest.raises(anthropic.AuthenticationError),
    ):
        clients.anthropic.messages.batches.list()
    assert fake.requests == []
    with (
        open_sdks(server.base_url, openai_key="sk-luthien-proxy") as clients,
        pytest.raises(openai.NotFoundError),
    ):
        clients.openai.responses.retrieve("resp_abc")
    (request,) = fake.requests
    assert request.headers["authorization"] == "Bearer sk-upstream"


def test_unknown_paths_answer_404_in_the_client_shape(luthien: LuthienServer) -> None:
    openai_style = httpx.get(f"{luthien.base_url}/v1/files")
    anthropic_style = httpx.get(f"{luthien.base_url}/v1/files", headers={"anthropic-version": "2023-06-01"})

    assert openai_style.status_code == anthropic_style.status_code == 404
    assert openai_style.json()["error"]["type"] == "invalid_request_error"
    assert anthropic_style.json()["error"]["type"] == "not_found_error"
    for served in ("POST /v1/responses", "GET /v1/responses/{response_id}", "GET /v1/messages/batches"):
        assert served in openai_style.json()["error"]["message"]
