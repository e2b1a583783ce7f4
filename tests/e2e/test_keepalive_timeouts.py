"""Keep-alive while a policy holds, and per-route / per-upstream timeouts, through a real server.

Keep-alive: a tool-call judge that has not answered holds the stream; the client must get the API's
keep-alive (Anthropic `ping`, an SSE comment for OpenAI) after the first frame, and the official SDK
must still parse the stream. The judge answers only once the client has seen two keep-alives
(an event, not a timing), so the test cannot pass by luck.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import orjson
import pytest

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    Pause,
    StreamReply,
    ToolCall,
    anthropic_stream,
    chat_stream,
    responses_stream,
)
from tests.support.judge_calls import judge_body, verdict_text
from tests.support.keepalives import (
    KEEPALIVE_S,
    KEEPALIVES,
    WatchingTransport,
    assert_keepalives_between_frames,
)
from tests.support.records import GUARD_S
from tests.support.threaded_upstream import Chunk, ThreadedUpstream

LS = ToolCall("toolu_01ListFiles", "Bash", {"command": "ls -la"})
USER = [{"role": "user", "content": "hi"}]


def gated_judge(seen: threading.Event) -> ThreadedUpstream:
    """An Anthropic-format judge that allows every call, answering only once `seen` is set."""

    def respond(path: str, body: dict[str, Any]) -> tuple[str, Sequence[Chunk]]:
        reply = orjson.dumps(judge_body("anthropic", verdict_text(0.1, "Fine.")))
        return "application/json", [seen, reply]

    return ThreadedUpstream(respond)


def judge_config(judge_url: str) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": judge_url}},
            "policies": {
                "guard": {
                    "class": "tool_call_judge",
                    "config": {
                        "judge": {"upstream": "judge", "model": "judge-model"},
                        "timeout_s": 3 * GUARD_S,
                    },
                }
            },
            "policy": "guard",
        }
    )


@pytest.fixture
def seen() -> threading.Event:
    return threading.Event()


def test_anthropic_stream_gets_pings_while_the_judge_decides(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    threaded_upstreams: list[ThreadedUpstream],
    seen: threading.Event,
) -> None:
    judge = gated_judge(seen)
    threaded_upstreams.append(judge)
    server = make_luthien(judge_config(judge.base_url), keepalive_interval_s=KEEPALIVE_S)
    fake.enqueue(StreamReply(anthropic_stream("Let me look.", tool_calls=[LS], ping=False)))
    transport = WatchingTransport(KEEPALIVES["anthropic"], seen)
    client = anthropic.Anthropic(
        base_url=server.base_url, api_key="k", max_retries=0, http_client=httpx2.Client(transport=transport)
    )

    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
        message = stream.get_final_message()

    assert judge.gates == [True]  # the judge answered because the client saw the pings
    tool_calls = [block for block in message.content if block.type == "tool_use"]
    assert [(call.name, call.input) for call in tool_calls] == [("Bash", {"command": "ls -la"})]
    assert_keepalives_between_frames(transport.watchers[0], KEEPALIVES["anthropic"])


def test_chat_stream_gets_comments_while_the_judge_decides(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    threaded_upstreams: list[ThreadedUpstream],
    seen: threading.Event,
) -> None:
    judge = gated_judge(seen)
    threaded_upstreams.append(judge)
    server = make_luthien(judge_config(judge.base_url), keepalive_interval_s=KEEPALIVE_S)
    fake.enqueue(StreamReply(chat_stream("Let me look.", tool_calls=[LS])))
    transport = WatchingTransport(KEEPALIVES["openai"], seen)
    client = openai.OpenAI(
        base_url=f"{server.base_url}/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )

    chunks = list(client.chat.completions.create(model="gpt-5", messages=USER, stream=True))  # pyright: ignore[reportArgumentType]

    assert judge.gates == [True]
    names = [
        call.function.name
        for chunk in chunks
        for choice in chunk.choices
        for call in choice.delta.tool_calls or []
        if call.function and call.function.name
    ]
    assert names == ["Bash"]
    assert_keepalives_between_frames(transport.watchers[0], KEEPALIVES["openai"])


def test_responses_stream_gets_comments_while_the_judge_decides(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    threaded_upstreams: list[ThreadedUpstream],
    seen: threading.Event,
) -> None:
    judge = gated_judge(seen)
    threaded_upstreams.append(judge)
    server = make_luthien(judge_config(judge.base_url), keepalive_interval_s=KEEPALIVE_S)
    fake.enqueue(StreamReply(responses_stream("Let me look.", tool_calls=[LS])))
    transport = WatchingTransport(KEEPALIVES["openai"], seen)
    client = openai.OpenAI(
        base_url=f"{server.base_url}/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )

    with client.responses.stream(model="gpt-5", input="hi") as stream:
        response = stream.get_final_response()

    assert judge.gates == [True]
    calls = [item for item in response.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["Bash"]
    assert_keepalives_between_frames(transport.watchers[0], KEEPALIVES["openai"])


def test_no_keepalive_when_no_policy_holds(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    # The upstream pauses mid-stream far longer than the interval, but nothing is held: the client
    # gets the upstream's bytes exactly, with nothing added.
    server = make_luthien(keepalive_interval_s=KEEPALIVE_S)
    frames = anthropic_stream("Hello there.", ping=False)
    fake.enqueue(StreamReply([*frames[:2], Pause(KEEPALIVE_S * 20), *frames[2:]]))

    response = httpx.post(
        f"{server.base_url}/v1/messages",
        json={"model": "m", "max_tokens": 1, "messages": USER, "stream": True},
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        timeout=GUARD_S,
    )

    assert response.content == b"".join(frames)


# -- timeouts per route and per upstream -------------------------------------------------------------


def routed(
    fake: FakeProvider, route_timeouts: dict[str, float] | None, upstream_timeouts: dict[str, float] | None
) -> LuthienConfig:
    upstream: dict[str, Any] = {"format": "anthropic", "base_url": fake.base_url}
    if upstream_timeouts is not None:
        upstream["timeouts"] = upstream_timeouts
    route: dict[str, Any] = {"model": "slow-*", "upstream": "slowpoke"}
    if route_timeouts is not None:
        route["timeouts"] = route_timeouts
    return LuthienConfig.model_validate({"upstreams": {"slowpoke": upstream}, "routes": [route]})


def call(server_url: str, model: str, stream: bool = False) -> httpx.Response:
    return httpx.post(
        f"{server_url}/v1/messages",
        json={"model": model, "max_tokens": 1, "messages": USER, "stream": stream},
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        timeout=GUARD_S * 2,
    )


@pytest.mark.parametrize(
    ("route_timeouts", "upstream_timeouts"),
    [
        ({"first_byte_s": 0.2}, None),
        (None, {"first_byte_s": 0.2}),
        ({"first_byte_s": 0.2}, {"first_byte_s": GUARD_S}),
    ],
    ids=["route", "upstream", "route-over-upstream"],
)
def test_a_short_first_byte_timeout_in_the_config_answers_504(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    route_timeouts: dict[str, float] | None,
    upstream_timeouts: dict[str, float] | None,
) -> None:
    # The global timeout would wait far longer than the test's guard.
    server = make_luthien(
        routed(fake, route_timeouts, upstream_timeouts), upstream_read_timeout_s=GUARD_S * 10
    )
    fake.enqueue(HangReply())

    response = call(server.base_url, "slow-model")

    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout_error"


def test_a_long_first_byte_timeout_on_a_route_outlasts_the_global_one(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    # Globally 0.2 s; the route allows the guard. The upstream thinks (pauses) before its first event.
    server = make_luthien(routed(fake, {"first_byte_s": GUARD_S}, None), upstream_read_timeout_s=0.2)
    frames = anthropic_stream("Thought hard.")
    fake.enqueue(StreamReply([Pause(1.0), *frames]))

    response = call(server.base_url, "slow-model", stream=True)

    assert response.status_code == 200
    assert response.content == b"".join(frames)
    fake.enqueue(StreamReply([Pause(1.0), *frames]))
    assert call(server.base_url, "other-model", stream=True).status_code == 504  # no route: global


def test_an_idle_timeout_on_a_route_ends_the_stream_with_an_error_event_and_closes_the_upstream(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(routed(fake, {"idle_s": 0.2}, None), upstream_read_timeout_s=GUARD_S)
    frames = anthropic_stream("Hello there.")
    fake.enqueue(StreamReply([*frames[:3], Pause(GUARD_S), *frames[3:]]))

    response = call(server.base_url, "slow-model", stream=True)

    assert response.status_code == 200
    assert response.content.startswith(b"".join(frames[:3]))
    last = response.content[len(b"".join(frames[:3])) :]
    assert last.startswith(b"event: error\n")
    error = orjson.loads(last.split(b"data: ", 1)[1])
    assert error["error"]["type"] == "timeout_error"
    assert fake.wait_stream_closed(GUARD_S)


def test_a_judge_upstream_times_out_by_its_own_timeouts(
    make_luthien: LuthienFactory, fake: FakeProvider, threaded_upstreams: list[ThreadedUpstream]
) -> None:
    # The judge's upstream allows 0.2 s to its first byte; the policy itself would wait far longer.
    never = threading.Event()
    judge = gated_judge(never)
    threaded_upstreams.append(judge)
    config = judge_config(judge.base_url).model_dump(by_alias=True)
    config["upstreams"]["judge"]["timeouts"] = {"first_byte_s": 0.2}
    server = make_luthien(LuthienConfig.model_validate(config), upstream_read_timeout_s=GUARD_S * 10)
    fake.enqueue(StreamReply(anthropic_stream("Let me look.", tool_calls=[LS])))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S)

    try:
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
            message = stream.get_final_message()
    finally:
        never.set()

    assert [block.type for block in message.content] == ["text", "text"]  # blocked: fail-secure
    decisions = [event.data for event in server.app.state.gateway.activity.events(type="judge.decision")]
    assert [(decision["error"], decision["blocked"]) for decision in decisions] == [("call_failed", True)]
