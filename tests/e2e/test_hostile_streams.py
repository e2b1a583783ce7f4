"""Hostile clients and misbehaving upstreams (issue 7), through a real server and the official SDKs.

Each test replays a crafted request or upstream stream that once slipped past a policy, corrupted
what the client's SDK assembled, or broke the server, and checks what the client now gets.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.luthien_server import LuthienServer

MODEL = "gpt-5"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tidy up the repository."}]
JUDGED = LuthienConfig.model_validate(
    {
        "upstreams": {"judge": {"format": "anthropic", "base_url": "http://127.0.0.1:9"}},
        "policies": {
            "judge": {
                "class": "tool_call_judge",
                "config": {"judge": {"upstream": "judge", "model": "judge-model"}},
            }
        },
    }
)


def chat_client(server: LuthienServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-test", max_retries=0)


# -- 1. `n` other than 1 is refused while a policy inspects responses --------------------------------


@pytest.mark.parametrize(
    "choices",
    [2, 2.0, 1.0, "2", "1", True, 0, -1, 10**30, [2], {"n": 2}],
    ids=["2", "2.0", "1.0", "str-2", "str-1", "true", "0", "negative", "huge", "list", "object"],
)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_any_n_but_one_is_refused_under_a_judge(
    make_luthien: LuthienFactory, fake: FakeProvider, choices: Any, stream: bool
) -> None:
    server = make_luthien(JUDGED, test_policy="judge")

    with chat_client(server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER, stream=stream, extra_body={"n": choices})

    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_request"
    assert fake.requests == []


@pytest.mark.parametrize("body", [{}, {"n": 1}, {"n": None}], ids=["absent", "one", "null"])
def test_one_choice_is_served_under_a_judge(
    make_luthien: LuthienFactory, fake: FakeProvider, body: dict[str, Any]
) -> None:
    server = make_luthien(JUDGED, test_policy="judge")

    with chat_client(server) as client:
        completion = client.chat.completions.create(model=MODEL, messages=USER, extra_body=body)

    assert completion.choices[0].message.content
    [received] = fake.requests
    assert {key: received.json()[key] for key in body} == body


def test_n_is_forwarded_when_no_policy_inspects_responses(fake: FakeProvider, luthien: LuthienServer) -> None:
    with chat_client(luthien) as client:
        client.chat.completions.create(model=MODEL, messages=USER, extra_body={"n": 2.0})

    [received] = fake.requests
    assert received.json()["n"] == 2.0
