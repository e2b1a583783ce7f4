"""Codex's recorded compaction requests replayed on routes translated to `anthropic` and `openai-chat`.

The bodies the real CLI (0.171) sent (tests/e2e/data/codex_*_request.json, see
test_codex_compaction.py), posted with its headers, no Codex needed: the compaction request
(streaming and not) is answered by exactly one `compaction` item holding the upstream model's
summary; the request after a compaction is refused (400 naming the field, nothing sent upstream)
while it holds OpenAI's own compaction item, and reaches the upstream with the summary as text when
it holds ours. Codex's `web_search` tool, in every recorded body, is left out on the way up by
default (`LUTHIEN_TRANSLATION_DROPPED_TOOL_TYPES`), and refused by field when the setting drops none.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import httpx
import httpx2
import pytest

from luthien.config import LuthienConfig
from luthien.translation.compaction import SUMMARY_PREFIX, SUMMARY_PROMPT, open_summary, seal_summary
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, anthropic_stream
from tests.support.cli_agents import FINAL_TEXT
from tests.support.codec_streams import sse_data
from tests.support.codex import AFTER_COMPACTION_REQUEST, CLIENT_KEY, TRIGGER_REQUEST, input_types, recorded
from tests.support.codex_translated import SUMMARY, UPSTREAMS, Setup, model_calls, start, texts, tool_names
from tests.support.keepalives import (
    KEEPALIVE_S,
    KEEPALIVES,
    WatchingTransport,
    assert_keepalives_between_frames,
)
from tests.support.threaded_upstream import Chunk, ThreadedUpstream

HTTP_TIMEOUT_S = 30.0


def replay(setup: Setup, request: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    headers = {**request["headers"], "authorization": f"Bearer {CLIENT_KEY}"}
    return httpx.post(
        f"{setup.server.base_url}{request['path']}", json=body, headers=headers, timeout=HTTP_TIMEOUT_S
    )


@UPSTREAMS
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
def test_the_recorded_compaction_request_is_answered_with_one_compaction_item(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider, api: str, stream: bool
) -> None:
    request = recorded(TRIGGER_REQUEST)
    assert input_types(request["body"])[-1] == "compaction_trigger"
    setup = start(make_luthien, fake, local, api)
    setup.model.enqueue(setup.upstream.reply(SUMMARY, [], False, stream))

    response = replay(setup, request, {**request["body"], "stream": stream})

    assert response.status_code == 200
    if stream:
        events = sse_data(response.text)
        assert events[-1]["type"] == "response.completed"
        output = events[-1]["response"]["output"]
        done = [event["item"] for event in events if event["type"] == "response.output_item.done"]
        assert done == output
    else:
        output = response.json()["output"]
    (item,) = output
    assert item["type"] == "compaction"
    assert item["id"].startswith("cmp_")
    assert open_summary(item["encrypted_content"]) == SUMMARY
    (sent,) = model_calls(setup)
    assert texts(sent["messages"][-1])[-1] == SUMMARY_PROMPT
    assert [call_id for call_id, _ in setup.upstream.tool_results(sent)] == ["call_codex_01"]
    assert sent["tool_choice"] in ({"type": "none"}, "none")


@UPSTREAMS
def test_the_recorded_request_after_compaction_reads_our_summary_and_refuses_openais(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider, api: str
) -> None:
    request = recorded(AFTER_COMPACTION_REQUEST)
    body = request["body"]
    index = input_types(body).index("compaction")
    setup = start(make_luthien, fake, local, api)

    refused = replay(setup, request, body)  # the recorded item is OpenAI's own encrypted summary

    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert f"input[{index}].encrypted_content" in refused.json()["error"]["message"]
    assert model_calls(setup) == []
    ours = {**body["input"][index], "encrypted_content": seal_summary(SUMMARY)}
    setup.model.enqueue(setup.upstream.reply(FINAL_TEXT, [], False, True))

    answered = replay(setup, request, {**body, "input": [*body["input"][:index], ours]})

    assert answered.status_code == 200
    assert sse_data(answered.text)[-1]["response"]["output"][0]["content"][0]["text"] == FINAL_TEXT
    (sent,) = model_calls(setup)
    assert texts(sent["messages"][-1])[-1] == SUMMARY_PREFIX + SUMMARY


@UPSTREAMS
def test_codexs_web_search_is_left_out_and_its_other_tools_go_up(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider, api: str
) -> None:
    request = recorded(TRIGGER_REQUEST)
    offered: list[dict[str, Any]] = request["body"]["tools"]
    assert "web_search" in [tool["type"] for tool in offered]
    setup = start(make_luthien, fake, local, api)
    setup.model.enqueue(setup.upstream.reply(SUMMARY, [], False, True))

    answered = replay(setup, request, request["body"])

    assert answered.status_code == 200
    (sent,) = model_calls(setup)
    # Every tool but `web_search` went up (a namespace's tools as `<namespace>__<name>`).
    assert set(tool_names(sent)) == {
        *(tool["name"] for tool in offered if tool["type"] == "function"),
        *(
            f"{tool['name']}__{inner['name']}"
            for tool in offered
            if tool["type"] == "namespace"
            for inner in tool["tools"]
        ),
    }


def test_the_recorded_request_with_codexs_web_search_is_refused_by_field_when_none_is_dropped(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider
) -> None:
    request = recorded(TRIGGER_REQUEST)
    index = [tool["type"] for tool in request["body"]["tools"]].index("web_search")
    setup = start(make_luthien, fake, local, "anthropic", settings={"translation_dropped_tool_types": "none"})

    refused = replay(setup, request, request["body"])

    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert f"tools[{index}].type" in refused.json()["error"]["message"]
    assert model_calls(setup) == []


def test_codex_gets_keepalives_while_the_summary_is_held(
    make_luthien: LuthienFactory, threaded_upstreams: list[ThreadedUpstream]
) -> None:
    # The upstream writes the summary's first words, then waits until the client has seen two
    # keep-alives (an event, not a timing): they can only come from Luthien holding the summary.
    seen = threading.Event()
    frames = anthropic_stream(SUMMARY, ping=False)
    first_delta = next(index for index, frame in enumerate(frames) if b"text_delta" in frame)

    def respond(path: str, body: dict[str, Any]) -> tuple[str, Sequence[Chunk]]:
        return "text/event-stream", [*frames[: first_delta + 1], seen, *frames[first_delta + 1 :]]

    upstream = ThreadedUpstream(respond)
    threaded_upstreams.append(upstream)
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"claude-up": {"format": "anthropic", "base_url": upstream.base_url}},
            "routes": [{"model": "*", "upstream": "claude-up"}],
        }
    )
    server = make_luthien(config, api_key=CLIENT_KEY, keepalive_interval_s=KEEPALIVE_S)
    request = recorded(TRIGGER_REQUEST)
    transport = WatchingTransport(KEEPALIVES["openai"], seen)

    with httpx2.Client(transport=transport) as client:
        answered = client.post(
            f"{server.base_url}{request['path']}",
            json=request["body"],
            headers={**request["headers"], "authorization": f"Bearer {CLIENT_KEY}"},
            timeout=HTTP_TIMEOUT_S,
        )

    assert upstream.gates == [True]
    (item,) = sse_data(answered.text)[-1]["response"]["output"]
    assert open_summary(item["encrypted_content"]) == SUMMARY
    assert_keepalives_between_frames(transport.watchers[0], KEEPALIVES["openai"])
