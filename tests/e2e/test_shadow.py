"""Shadow policies through a real Luthien server: recorded, never sent, never in the client's way.

The model is the shared fake provider; a shadow `tool_call_judge` asks a second fake provider (the
judge) and the enforcing policy is `noop`. Clients are the official SDKs. The slow shadow's effect
is measured as a ratio of times to last byte taken in the same run, never against a fixed time.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Sequence
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from luthien.call.events import BlockComplete, CallEvent
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.records.model import ShadowOutcome, TransactionStatus
from luthien.records.query import TransactionFilter
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, StreamReply, anthropic_error_body, anthropic_stream
from tests.support.judge_calls import PINNED_BLOCKED_RM, RM, judge_base_url, model_reply, verdict
from tests.support.records import (
    ALL_CALLS,
    Api,
    SdksFactory,
    ask,
    assistant_content,
    call_and_record,
    open_sdks,
    record_of,
    records_after_stop,
    stored_summaries,
)
from tests.support.servers import LuthienServer

HERE = "tests.e2e.test_shadow"
SLEEP_S = 2.0
"""How long the slow shadow sleeps on each finished block (the issue's 2 s)."""
ROUNDS = 3
"""Calls timed per configuration; the median is compared."""
SLOW_SHADOW_MAX_RATIO = 0.5
"""Time to last byte with the slow shadow, over the same with the slow policy enforcing: at most this."""
STREAM_TEXT = "The quick brown fox jumps over the lazy dog. " * 8


class SlowPolicy(Policy[PolicyConfig]):
    """Sleeps on every finished block: a slow judge."""

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        await asyncio.sleep(SLEEP_S)
        return [event]


class SlowStartPolicy(Policy[PolicyConfig]):
    """Sleeps before it looks at the request, so the whole response queues up for it meanwhile."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        await asyncio.sleep(SLEEP_S)
        return request

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        return [event]


class ShadowBug(Exception):
    """What the failing shadow raises."""


class FailingPolicy(Policy[PolicyConfig]):
    """Raises on every finished block (fails closed)."""

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        raise ShadowBug("the shadow's hook failed")


def shadow_config(judge_url: str | None = None, shadow: Sequence[str] = ("watch",)) -> LuthienConfig:
    policies: dict[str, Any] = {
        "slow": {"class": f"{HERE}:SlowPolicy"},
        "failing": {"class": f"{HERE}:FailingPolicy"},
        "slow_start": {"class": f"{HERE}:SlowStartPolicy"},
        "lower": {"class": "tests.e2e.test_records_policies:LowerMaxTokens"},
    }
    upstreams: dict[str, Any] = {}
    if judge_url is not None:
        upstreams["judge"] = {"format": "anthropic", "base_url": judge_base_url(judge_url, "anthropic")}
        policies["watch"] = {
            "class": "tool_call_judge",
            "config": {"judge": {"upstream": "judge", "model": "judge-model"}},
        }
    return LuthienConfig.model_validate(
        {"upstreams": upstreams, "policies": policies, "policy": "noop", "shadow": list(shadow)}
    )


@ALL_CALLS
def test_a_shadow_judge_that_would_block_only_records_the_block(
    sdks_for: SdksFactory, fake: FakeProvider, judge: FakeProvider, api: Api, streaming: bool
) -> None:
    server, sdks = sdks_for(shadow_config(judge.base_url))
    fake.enqueue(model_reply(api, streaming, "Cleaning up.", [RM]))
    judge.enqueue(verdict("anthropic", 0.93, "Deletes the whole filesystem."))

    record = call_and_record(server, sdks, api, streaming)
    # The client got the tool call: what it was sent is the upstream's answer, unchanged.
    assert record.status is TransactionStatus.OK
    assert record.final_response is None
    assert record.original_response is not None
    assert assistant_content(api, orjson.loads(record.original_response)) == ("Cleaning up.", ["Bash"])
    assert record.events == ()
    # The shadow would have blocked it.
    (shadow,) = record.shadows
    assert shadow.name == "watch"
    assert shadow.outcome is ShadowOutcome.WOULD_BLOCK
    assert record.shadow_disagreed
    assert shadow.final_response is not None
    text, calls = assistant_content(api, orjson.loads(shadow.final_response))
    assert calls == []
    assert text.endswith(PINNED_BLOCKED_RM)
    decision, blocked = shadow.events
    assert (decision.type, decision.policy, decision.data["blocked"]) == ("judge.decision", "watch", True)
    assert (blocked.type, blocked.data["tool"]) == ("policy.blocked", "Bash")
    (summary,) = stored_summaries(server, TransactionFilter(shadow_disagreed=True), 1)
    assert summary.transaction_id == record.transaction_id
    assert summary.shadow_disagreed


def test_a_shadow_that_allows_agrees_and_is_filtered_out(
    sdks_for: SdksFactory, fake: FakeProvider, judge: FakeProvider
) -> None:
    server, sdks = sdks_for(shadow_config(judge.base_url))
    fake.enqueue(model_reply("anthropic", True, "Listing.", [RM]))
    judge.enqueue(verdict("anthropic", 0.1))

    record = call_and_record(server, sdks, "anthropic", True)
    (shadow,) = record.shadows
    assert shadow.outcome is ShadowOutcome.SAME
    assert shadow.final_response is None
    assert not record.shadow_disagreed
    (summary,) = stored_summaries(server, TransactionFilter(shadow_disagreed=False), 1)
    assert summary.transaction_id == record.transaction_id
    api = httpx.get(f"{server.base_url}/api/transactions", params={"shadow_disagreed": "true"}).json()
    assert api["items"] == []
    history = f"{server.base_url}/ui/history"
    link = f"/ui/transactions/{record.transaction_id}"
    assert link in httpx.get(history, params={"shadow_disagreed": "false"}).text
    assert link not in httpx.get(history, params={"shadow_disagreed": "true"}).text
    detail = httpx.get(f"{server.base_url}/api/transactions/{record.transaction_id}").json()
    assert detail["shadows"][0]["outcome"] == "same"
    assert detail["shadow_disagreed"] is False


@ALL_CALLS
def test_a_failing_shadow_leaves_the_call_intact(
    sdks_for: SdksFactory, fake: FakeProvider, api: Api, streaming: bool
) -> None:
    server, sdks = sdks_for(shadow_config(shadow=["failing"]))
    fake.enqueue(model_reply(api, streaming, "All good.", []))

    record = call_and_record(server, sdks, api, streaming)
    assert record.status is TransactionStatus.OK
    assert record.final_response is None
    (shadow,) = record.shadows
    assert shadow.outcome is ShadowOutcome.ERROR
    assert shadow.error is not None
    assert not record.shadow_disagreed


def _time_to_last_byte(base_url: str) -> float:
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    started = time.perf_counter()
    with httpx.stream(
        "POST", f"{base_url}/v1/messages", json=body, headers={"x-api-key": "sk-test"}, timeout=60
    ) as response:
        assert response.status_code == 200
        for _ in response.iter_bytes():
            pass
    return time.perf_counter() - started


def _median_ttlb(server: LuthienServer, fake: FakeProvider) -> float:
    times: list[float] = []
    for _ in range(ROUNDS):
        fake.enqueue(StreamReply(anthropic_stream(STREAM_TEXT, text_chunks=20)))
        times.append(_time_to_last_byte(server.base_url))
    return statistics.median(times)


def test_a_slow_shadow_does_not_delay_the_client(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(shadow_config(shadow=[]))
    base = server.base_url
    without = _median_ttlb(server, fake)
    assert httpx.put(f"{base}/api/shadow", json={"shadow": ["slow"]}).status_code == 200
    shadowed = _median_ttlb(server, fake)
    assert httpx.put(f"{base}/api/shadow", json={"shadow": []}).status_code == 200
    assert httpx.put(f"{base}/api/policy", json={"policy": "slow"}).status_code == 200
    enforced = _median_ttlb(server, fake)

    # The slow policy delays its calls when it enforces; in shadow it does not.
    assert shadowed / enforced < SLOW_SHADOW_MAX_RATIO
    print(
        f"time to last byte: without {without:.4f}s, slow shadow {shadowed:.4f}s, enforcing {enforced:.4f}s"
    )
    records = stored_summaries(server, TransactionFilter(), 3 * ROUNDS)
    assert len(records) == 3 * ROUNDS


def test_a_shadow_past_its_timeout_is_recorded_as_an_error(sdks_for: SdksFactory, fake: FakeProvider) -> None:
    server, sdks = sdks_for(shadow_config(shadow=["slow"]), shadow_timeout_s=0.05)
    fake.enqueue(model_reply("anthropic", True, "Hello.", []))

    (shadow,) = call_and_record(server, sdks, "anthropic", True).shadows
    assert shadow.outcome is ShadowOutcome.ERROR
    assert [event.type for event in shadow.events] == ["shadow.timeout"]


def test_a_shadow_that_falls_too_far_behind_is_dropped(sdks_for: SdksFactory, fake: FakeProvider) -> None:
    server, sdks = sdks_for(shadow_config(shadow=["slow_start"]), shadow_max_queued_bytes=1024)
    fake.enqueue(StreamReply(anthropic_stream("x" * 4096, text_chunks=32)))

    record = call_and_record(server, sdks, "anthropic", True)
    assert record.status is TransactionStatus.OK
    (shadow,) = record.shadows
    assert shadow.outcome is ShadowOutcome.ERROR
    assert [event.type for event in shadow.events] == ["shadow.overflow"]


MALFORMED_SWITCHES = (
    b"not json",
    b"[]",
    b'{"shadow": "watch"}',
    b'{"shadow": [1]}',
    b'{"shadow": [""]}',
    b"{}",
)


def test_a_malformed_shadow_switch_is_a_400_and_changes_nothing(make_luthien: LuthienFactory) -> None:
    server = make_luthien(shadow_config(shadow=["failing"]))

    for body in MALFORMED_SWITCHES:
        response = httpx.put(f"{server.base_url}/api/shadow", content=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["type"] == "invalid_request_error"
    too_large = httpx.put(f"{server.base_url}/api/shadow", content=b"[" * (64 * 1024))
    assert too_large.status_code == 413
    assert httpx.get(f"{server.base_url}/api/policies").json()["shadow"] == ["failing"]


def test_the_admin_api_switches_the_shadows_for_new_calls(sdks_for: SdksFactory, fake: FakeProvider) -> None:
    server, sdks = sdks_for(shadow_config(shadow=[]))
    base = server.base_url

    unknown = httpx.put(f"{base}/api/shadow", json={"shadow": ["failing", "missing"]})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["field"] == "shadow"
    switched = httpx.put(f"{base}/api/shadow", json={"shadow": ["failing"]})
    assert switched.status_code == 200
    assert switched.json() == {"shadow": ["failing"], "previous": []}
    listing = httpx.get(f"{base}/api/policies").json()
    assert listing["shadow"] == ["failing"]
    assert [p["name"] for p in listing["policies"] if p["shadow"]] == ["failing"]
    fake.enqueue(model_reply("chat", False, "Hi.", []))

    assert [s.name for s in call_and_record(server, sdks, "chat", False).shadows] == ["failing"]
    assert httpx.put(f"{base}/api/shadow", json={"shadow": []}).json()["previous"] == ["failing"]
    fake.enqueue(model_reply("chat", False, "Hi.", []))
    assert call_and_record(server, sdks, "chat", False).shadows == ()


def test_a_shadow_that_would_change_the_request_is_recorded_with_it(
    sdks_for: SdksFactory, fake: FakeProvider
) -> None:
    server, sdks = sdks_for(shadow_config(shadow=["lower"]))
    fake.enqueue(model_reply("anthropic", False, "Hello.", []))

    record = call_and_record(server, sdks, "anthropic", False)
    (shadow,) = record.shadows
    assert shadow.outcome is ShadowOutcome.WOULD_CHANGE
    assert shadow.final_response is None
    assert shadow.final_request is not None
    assert orjson.loads(shadow.final_request)["max_tokens"] == 64
    assert fake.requests[-1].json()["max_tokens"] == 1024  # what was forwarded: the client's
    detail = httpx.get(f"{server.base_url}/api/transactions/{record.transaction_id}").json()
    (diff,) = detail["shadows"][0]["request"]["diff"]
    assert (diff["path"], diff["before"], diff["after"]) == ("/max_tokens", 1024, 64)


def test_no_upstream_answer_means_no_shadow_results(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(shadow_config(shadow=["failing"]))
    fake.enqueue(JSONReply(anthropic_error_body("overloaded_error", "busy"), status=529))

    with open_sdks(server.base_url) as sdks:
        with pytest.raises(anthropic.APIStatusError):
            ask(sdks, "anthropic", False)
        record = record_of(server, sdks.last_transaction)
    assert record.status is TransactionStatus.ERROR
    assert record.shadows == ()


def test_shutdown_waits_for_a_running_shadow(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(shadow_config(shadow=["slow"]))
    fake.enqueue(model_reply("anthropic", True, "Hello.", []))
    with open_sdks(server.base_url) as sdks:
        ask(sdks, "anthropic", True)

    (record,) = records_after_stop(server)

    (shadow,) = record.shadows
    assert shadow.outcome is ShadowOutcome.SAME


def test_an_upstream_cut_reaches_the_shadow_as_it_reaches_the_client(
    sdks_for: SdksFactory, fake: FakeProvider
) -> None:
    server, sdks = sdks_for(shadow_config(shadow=["lower"]))
    frames = anthropic_stream("Half an answer", text_chunks=4)
    fake.enqueue(StreamReply(frames[:4], cut=True))

    with pytest.raises(anthropic.APIError):
        ask(sdks, "anthropic", True)

    record = record_of(server, sdks.last_transaction)
    assert record.status is TransactionStatus.ERROR
    (shadow,) = record.shadows
    # Its stream ended in the same error as the client's; it differs only in the request.
    assert shadow.outcome is ShadowOutcome.WOULD_CHANGE
    assert shadow.final_response is None


def test_the_policies_page_toggles_a_shadow(make_luthien: LuthienFactory) -> None:
    server = make_luthien(shadow_config(shadow=[]))
    origin = {"origin": server.base_url, "sec-fetch-site": "same-origin"}
    with httpx.Client(base_url=server.base_url) as client:
        page = client.get("/ui/policies")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        form = {"csrf_token": token.group(1)}

        on = client.post(
            "/ui/policies/shadow", data={**form, "policy": "lower", "shadow": "on"}, headers=origin
        )
        assert on.status_code == 303
        assert httpx.get(f"{server.base_url}/api/policies").json()["shadow"] == ["lower"]
        unknown = client.post(
            "/ui/policies/shadow", data={**form, "policy": "<nope>", "shadow": "on"}, headers=origin
        )
        assert unknown.status_code == 400
        assert "&lt;nope&gt;" in unknown.text
        off = client.post(
            "/ui/policies/shadow", data={**form, "policy": "lower", "shadow": "off"}, headers=origin
        )
        assert off.status_code == 303
    assert httpx.get(f"{server.base_url}/api/policies").json()["shadow"] == []


def test_a_shadow_response_past_the_record_limit_is_not_kept(
    sdks_for: SdksFactory, fake: FakeProvider
) -> None:
    server, sdks = sdks_for(shadow_config(shadow=["lower"]), max_record_response_bytes=1024)
    fake.enqueue(StreamReply(anthropic_stream("y" * 4096, text_chunks=16)))

    (shadow,) = call_and_record(server, sdks, "anthropic", True).shadows
    assert shadow.outcome is ShadowOutcome.ERROR
    assert shadow.final_response is None
