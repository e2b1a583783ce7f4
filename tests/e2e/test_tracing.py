"""OpenTelemetry tracing end to end: `LUTHIEN_OTEL_ENDPOINT` pointed at a real OTLP/HTTP receiver.

The spans are read as the receiver decoded them from the exporter's protobuf. The server is stopped
before they are read: its shutdown exports every span still queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

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
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.records import GUARD_S, TRANSACTION_HEADER

MODEL = "claude-sonnet-4-6"
BODY: dict[str, Any] = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
RM = ToolCall("toolu_01RmRfRoot", "Bash", {"command": "rm -rf /", "description": "wipe"})


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    started = OtlpReceiver().start()
    yield started
    started.stop()


def ids(traceparent: str) -> tuple[str, str]:
    """(trace id, parent span id) of a W3C `traceparent` (version and flags left out)."""
    version, trace_id, parent_id, _flags = traceparent.split("-")
    assert version == "00"
    return trace_id, parent_id


def by_name(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.name == name]


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = by_name(spans, name)
    assert len(found) == 1, f"{name}: {[span.name for span in spans]}"
    return found[0]


def test_a_call_continues_the_clients_trace_and_sends_its_own_traceparent_upstream(
    make_luthien: LuthienFactory, fake: FakeProvider, receiver: OtlpReceiver
) -> None:
    server = make_luthien(otel_endpoint=receiver.endpoint, otel_service_name="luthien-test")
    fake.enqueue(StreamReply(anthropic_stream("traced")))

    response = httpx.post(
        f"{server.base_url}/v1/messages",
        json={**BODY, "stream": True},
        headers={"traceparent": CLIENT_TRACEPARENT},
        timeout=GUARD_S,
    )
    assert response.status_code == 200
    server.stop()
    spans = receiver.spans()

    call = one(spans, "POST /v1/messages")
    assert call.kind == SpanProto.SPAN_KIND_SERVER
    assert (call.trace_id, call.parent_id) == (CLIENT_TRACE, CLIENT_SPAN)
    assert call.service_name == "luthien-test"
    assert call.attributes["luthien.transaction_id"] == response.headers[TRANSACTION_HEADER]
    assert call.attributes["luthien.endpoint"] == "/v1/messages"
    assert call.attributes["luthien.model"] == MODEL
    assert call.attributes["luthien.upstream"] == "anthropic"
    assert call.attributes["luthien.status"] == "ok"
    assert call.attributes["http.response.status_code"] == 200
    upstream = one(spans, "upstream POST")
    assert upstream.kind == SpanProto.SPAN_KIND_CLIENT
    assert (upstream.trace_id, upstream.parent_id) == (CLIENT_TRACE, call.span_id)
    # The upstream sees our span as its parent, not the client's raw header.
    assert ids(fake.requests[-1].headers["traceparent"]) == (CLIENT_TRACE, upstream.span_id)


def test_without_a_client_traceparent_the_call_starts_a_trace(
    make_luthien: LuthienFactory, fake: FakeProvider, receiver: OtlpReceiver
) -> None:
    server = make_luthien(otel_endpoint=f"{receiver.endpoint}/v1/traces")
    fake.enqueue(JSONReply(anthropic_message("traced")))

    assert httpx.post(f"{server.base_url}/v1/messages", json=BODY, timeout=GUARD_S).status_code == 200
    server.stop()
    spans = receiver.spans()

    call = one(spans, "POST /v1/messages")
    assert call.parent_id == ""
    assert one(spans, "upstream POST").trace_id == call.trace_id
    assert ids(fake.requests[-1].headers["traceparent"]) == (
        call.trace_id,
        one(spans, "upstream POST").span_id,
    )


def test_policy_hooks_and_the_judge_are_spans_under_the_call(
    make_luthien: LuthienFactory, fake: FakeProvider, receiver: OtlpReceiver
) -> None:
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": fake.base_url}},
            "policies": {
                "guard": {
                    "class": "tool_call_judge",
                    "config": {"judge": {"upstream": "judge", "model": "j"}},
                }
            },
            "policy": "guard",
        }
    )
    server = make_luthien(config, otel_endpoint=receiver.endpoint)
    fake.enqueue(StreamReply(anthropic_stream("Deleting.", tool_calls=[RM])))
    fake.enqueue(
        JSONReply(anthropic_message('{"probability": 0.93, "explanation": "wipes disk"}', model="j"))
    )

    response = httpx.post(f"{server.base_url}/v1/messages", json={**BODY, "stream": True}, timeout=GUARD_S)
    assert response.status_code == 200
    server.stop()
    spans = receiver.spans()

    call = one(spans, "POST /v1/messages")
    assert call.attributes["luthien.status"] == "blocked"
    assert call.attributes["luthien.policy"] == "guard"
    on_request = one(spans, "policy.on_request")
    assert (on_request.parent_id, on_request.attributes["luthien.policy"]) == (call.span_id, "guard")
    response_span = one(spans, "policy.response")
    assert response_span.parent_id == call.span_id
    hook = one(spans, "policy.on_block_complete")
    assert (hook.parent_id, hook.attributes["luthien.tool"]) == (response_span.span_id, "Bash")
    judge = one(spans, "judge")
    assert judge.parent_id == hook.span_id
    assert judge.attributes["luthien.judge.probability"] == pytest.approx(0.93)
    judge_upstream = [span for span in by_name(spans, "upstream POST") if span.parent_id == judge.span_id]
    assert len(judge_upstream) == 1
    assert len({span.trace_id for span in spans}) == 1
    # The judge's own model call carried the judge span's trace onward.
    judge_request = fake.requests[-1]
    assert judge_request.json()["model"] == "j"
    assert ids(judge_request.headers["traceparent"]) == (call.trace_id, judge_upstream[0].span_id)


def test_with_tracing_off_the_clients_traceparent_passes_through(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien()
    fake.enqueue(JSONReply(anthropic_message("untraced")))

    response = httpx.post(
        f"{server.base_url}/v1/messages",
        json=BODY,
        headers={"traceparent": CLIENT_TRACEPARENT, "tracestate": "vendor=1"},
        timeout=GUARD_S,
    )

    assert response.status_code == 200
    assert fake.requests[-1].headers["traceparent"] == CLIENT_TRACEPARENT
    assert fake.requests[-1].headers["tracestate"] == "vendor=1"
