"""`drop_thinking`: thinking blocks dropped (all, or by pattern or secret) and recorded, per client API."""

from __future__ import annotations

import pytest

from luthien.policy import BlockKind, StopReason, ToolCall
from luthien.testing import API_NAMES, ApiName, load_policy, model_reply, run_policy_sync

THINKING = "The user's key is AKIAIOSFODNN7EXAMPLE; I should not repeat it."
CALL = ToolCall("call_1", "get_weather", {"city": "Paris"})


@pytest.mark.parametrize("api", API_NAMES)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_every_thinking_block_is_dropped_and_recorded(api: ApiName, stream: bool) -> None:
    reply = model_reply(api, "Sunny.", thinking=THINKING, tool_calls=[CALL], stream=stream)

    result = run_policy_sync(load_policy("drop_thinking"), reply)

    assert [block.kind for block in result.blocks] == [BlockKind.TEXT, BlockKind.TOOL_CALL]
    assert result.text == "Sunny."
    assert result.stop_reason is StopReason.TOOL_USE
    [dropped] = result.records("thinking.dropped")
    assert (dropped.data["chars"], dropped.data["reason"]) == (len(THINKING), "always")
    assert result.repairs == []


@pytest.mark.parametrize("api", API_NAMES)
def test_only_thinking_with_a_secret_is_dropped(api: ApiName) -> None:
    policy = load_policy("drop_thinking", {"only_if_secret": True})

    leaky = run_policy_sync(policy, model_reply(api, "Done.", thinking=THINKING))
    clean = run_policy_sync(policy, model_reply(api, "Done.", thinking="Nothing sensitive here."))

    assert leaky.thinking == ""
    assert [event.data["reason"] for event in leaky.records("thinking.dropped")] == ["secret"]
    assert clean.unchanged
    assert clean.records("thinking.dropped") == []


def test_a_pattern_condition_drops_only_matching_thinking() -> None:
    policy = load_policy("drop_thinking", {"only_if_matching": [r"Project\s+Falcon"]})

    matching = run_policy_sync(policy, model_reply("anthropic", "ok", thinking="About Project Falcon..."))
    other = run_policy_sync(policy, model_reply("anthropic", "ok", thinking="About the weather."))

    assert [event.data["reason"] for event in matching.records("thinking.dropped")] == ["pattern"]
    assert other.thinking == "About the weather."
