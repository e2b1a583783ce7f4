"""`luthien.testing.run_policy` and the reply builders: every API, streaming or not, no server."""

from __future__ import annotations

import pytest

from luthien.call.events import BlockKind, Opaque, StopReason
from luthien.policies.noop import NoopPolicy
from luthien.policy import PolicyConfig
from luthien.testing import (
    API_NAMES,
    ApiName,
    ToolCall,
    error_reply,
    load_policy,
    model_reply,
    run_policy,
    run_policy_sync,
    text_reply,
    tool_call_reply,
)

TEXT = "The key is sk-ABCDEFGHIJKLMNOPQRSTUV and Paris is nice."
APIS = pytest.mark.parametrize("api", API_NAMES)
STREAMING = pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])


@APIS
@STREAMING
@pytest.mark.asyncio
async def test_a_pass_through_sends_the_upstream_bytes(api: ApiName, stream: bool) -> None:
    call = ToolCall("call_1", "Read", {"path": "a.txt"})
    reply = model_reply(api, TEXT, thinking="hmm", tool_calls=[call], text_chunks=5, stream=stream)

    result = await run_policy(load_policy("debug_logging"), reply)

    assert result.unchanged
    assert [block.kind for block in result.blocks] == [
        BlockKind.THINKING,
        BlockKind.TEXT,
        BlockKind.TOOL_CALL,
    ]
    assert result.text == TEXT
    assert [(c.id, c.name, c.parsed_arguments) for c in result.tool_calls] == [
        ("call_1", "Read", {"path": "a.txt"})
    ]
    assert result.stop_reason is StopReason.TOOL_USE
    assert result.repairs == []


@APIS
@STREAMING
@pytest.mark.asyncio
async def test_a_rewriting_policy_changes_only_what_it_rewrites(api: ApiName, stream: bool) -> None:
    policy = load_policy(
        "string_replace",
        {"replacements": [{"find": "sk-[A-Za-z0-9]{20,}", "replace": "[key]", "regex": True}]},
    )

    result = await run_policy(policy, text_reply(api, TEXT, chunks=9, stream=stream))

    assert result.text == "The key is [key] and Paris is nice."
    assert result.repairs == []
    assert not result.unchanged
    if stream:
        assert result.frames[0] == result.reply.frames[0]  # the message start keeps its bytes


@APIS
@pytest.mark.asyncio
async def test_parallel_tool_calls_and_a_block(api: ApiName) -> None:
    rm = ToolCall("call_rm", "Bash", {"command": "rm -rf /"})
    ls = ToolCall("call_ls", "Bash", {"command": "ls"})

    result = await run_policy(load_policy("block_commands"), tool_call_reply(api, rm, ls, text="On it."))

    assert [call.id for call in result.tool_calls] == ["call_ls"]
    [blocked] = result.records("policy.blocked")
    assert blocked.data["tool_call_id"] == "call_rm"
    assert result.stop_reason is StopReason.TOOL_USE


@APIS
@pytest.mark.asyncio
async def test_an_upstream_error_reaches_the_client_after_the_text(api: ApiName) -> None:
    result = await run_policy(NoopPolicy(PolicyConfig()), error_reply(api, "partial answer"))

    assert result.unchanged
    assert result.stop_reason is None
    assert isinstance(result.events[-1], Opaque)


@APIS
def test_the_request_is_forwarded_and_sync_runs_work(api: ApiName) -> None:
    result = run_policy_sync(load_policy("all_caps"), text_reply(api, "quiet", stream=False))

    assert result.text == "QUIET"
    assert result.request.stream is False
    assert result.request.raw is not None
