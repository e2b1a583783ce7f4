"""Replay without a server: the rebuilt streams, one record through a policy, the report and progress."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import BlockComplete, CallEvent
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.records.assemble import assemble_stream
from luthien.records.model import Timing, TransactionRecord, TransactionStatus
from luthien.replay.command import ProgressBar
from luthien.replay.rebuild import NotReplayable, stream_frames
from luthien.replay.report import LISTED_DISAGREEMENTS, outcome_json, render_table
from luthien.replay.runner import ReplayOutcome, content_of, replay_record
from luthien.replay.store import Prices, ReplayRun, RunStatus, Totals
from luthien.testing.fake_provider.script import ToolCall
from luthien.testing.run import load_policy
from luthien.testing.streams import ApiName, model_reply

RM = ToolCall("call_rm", "Bash", {"command": "rm -rf /"})
LS = ToolCall("call_ls", "Bash", {"command": "ls"})
APIS: dict[ApiName, str] = {
    "anthropic": ANTHROPIC_MESSAGES.name,
    "openai_chat": OPENAI_CHAT.name,
    "openai_responses": OPENAI_RESPONSES.name,
}
REQUESTS: dict[ApiName, dict[str, Any]] = {
    "anthropic": {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    "openai_chat": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "openai_responses": {"model": "m", "input": "hi"},
}


def recorded_message(api: ApiName, **reply: Any) -> bytes:
    """A stream as the recorder stores it: assembled into the whole message."""
    frames = model_reply(api, **reply).frames
    message = assemble_stream(APIS[api], frames).message
    assert message is not None
    return orjson.dumps(message)


def record(api: ApiName, response: bytes | None, streaming: bool = True, **fields: Any) -> TransactionRecord:
    values: dict[str, Any] = {
        "transaction_id": "tx-1",
        "session_id": None,
        "client_api": APIS[api],
        "endpoint": "/v1/x",
        "model": "m",
        "upstream": "u",
        "policy": "noop",
        "status": TransactionStatus.OK,
        "http_status": 200,
        "streaming": streaming,
        "timing": Timing(received_at=1.0),
        "original_request": orjson.dumps(REQUESTS[api]),
        "original_response": response,
        **fields,
    }
    return TransactionRecord(**values)


@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("thinking", [None, "let me think"])
def test_a_rebuilt_stream_assembles_into_the_recorded_message(api: ApiName, thinking: str | None) -> None:
    body = recorded_message(api, text="hello there", thinking=thinking, tool_calls=[LS, RM])
    wire = {
        "anthropic": ANTHROPIC_MESSAGES,
        "openai_chat": OPENAI_CHAT,
        "openai_responses": OPENAI_RESPONSES,
    }[api]

    frames = stream_frames(wire, body)
    assembly = assemble_stream(APIS[api], frames)

    assert assembly.complete
    assert assembly.error is None
    assert assembly.message is not None
    assert content_of(wire, orjson.dumps(assembly.message)) == content_of(wire, body)
    if api != "openai_responses":  # Responses renumbers its message items' ids
        assert assembly.message == orjson.loads(body)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_a_response_that_is_not_a_json_object_cannot_be_rebuilt(body: bytes) -> None:
    with pytest.raises(NotReplayable):
        stream_frames(ANTHROPIC_MESSAGES, body)


def test_an_unknown_responses_item_cannot_be_rebuilt() -> None:
    body = orjson.dumps(
        {"id": "r", "object": "response", "status": "completed", "output": [{"type": "hologram"}]}
    )
    with pytest.raises(NotReplayable):
        stream_frames(OPENAI_RESPONSES, body)


@pytest.mark.asyncio
@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("streaming", [True, False])
async def test_block_commands_newly_blocks_the_destructive_call(api: ApiName, streaming: bool) -> None:
    if streaming:
        body = recorded_message(api, text="cleaning", tool_calls=[LS, RM])
    else:
        body = model_reply(api, text="cleaning", tool_calls=[LS, RM], stream=False).body
    outcome = await replay_record(
        load_policy("block_commands"), "commands", record(api, body, streaming), None
    )

    assert outcome.skipped is None
    assert outcome.error is None
    assert outcome.changed
    assert outcome.newly_blocked == ("Bash#call_rm",)
    assert outcome.newly_allowed == ()
    assert outcome.disagrees


@pytest.mark.asyncio
async def test_noop_allows_what_was_blocked_at_the_time() -> None:
    original = recorded_message("anthropic", text="cleaning", tool_calls=[RM])
    blocked = await replay_record(
        load_policy("block_commands"), "commands", record("anthropic", original), None
    )
    at_the_time = record("anthropic", original, final_response=blocked.replayed_response)

    outcome = await replay_record(load_policy("noop"), "noop", at_the_time, None)

    assert outcome.newly_allowed == ("Bash#call_rm",)
    assert outcome.newly_blocked == ()
    assert outcome.changed


class Explodes(Policy[PolicyConfig]):
    """Fails closed on every block."""

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        raise RuntimeError("boom")


@pytest.mark.asyncio
@pytest.mark.parametrize("streaming", [True, False])
async def test_a_policy_that_fails_closed_is_an_error(streaming: bool) -> None:
    body = (
        recorded_message("anthropic", text="hi")
        if streaming
        else model_reply("anthropic", text="hi", stream=False).body
    )
    outcome = await replay_record(
        Explodes(PolicyConfig(), "explodes"), "explodes", record("anthropic", body, streaming), None
    )

    assert outcome.error is not None
    assert not outcome.changed
    assert outcome.disagrees


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("response", "fields", "reason"),
    [
        (None, {}, "no response was recorded"),
        (b"oops", {}, "the recorded response is not a JSON object"),
        (b'{"content": [], "luthien_response_truncated": true}', {}, "the recorded response was truncated"),
        (b"{}", {"client_api": "carrier_pigeon"}, "unknown client API 'carrier_pigeon'"),
    ],
)
async def test_calls_that_cannot_be_replayed_are_skipped(
    response: bytes | None, fields: dict[str, Any], reason: str
) -> None:
    outcome = await replay_record(load_policy("noop"), "noop", record("anthropic", response, **fields), None)

    assert outcome.skipped == reason
    assert not outcome.disagrees


@pytest.mark.asyncio
async def test_a_stream_that_cannot_be_rebuilt_is_skipped() -> None:
    body = orjson.dumps(
        {"id": "r", "object": "response", "status": "completed", "output": [{"type": "hologram"}]}
    )

    outcome = await replay_record(load_policy("block_commands"), "c", record("openai_responses", body), None)

    assert outcome.skipped is not None
    assert outcome.skipped.startswith("the recorded response cannot be decoded")


@pytest.mark.asyncio
async def test_a_whole_body_the_policy_cannot_read_is_an_error() -> None:
    body = orjson.dumps(
        {"id": "r", "object": "response", "status": "completed", "output": [{"type": "hologram"}]}
    )

    outcome = await replay_record(
        load_policy("block_commands"), "c", record("openai_responses", body, streaming=False), None
    )

    assert outcome.error is not None


def test_the_table_lists_totals_and_the_first_disagreements() -> None:
    outcomes = [
        ReplayOutcome("tx-err", "openai_chat", "m", False, 1.0, "noop", error="policy 'x' failed closed"),
        ReplayOutcome("tx-chg", "openai_chat", "m", False, 1.0, "noop", changed=True),
        ReplayOutcome("tx-ok", "openai_chat", "m", False, 1.0, "noop", newly_allowed=("Read#2",)),
        ReplayOutcome("tx-same", "openai_chat", "m", False, 1.0, "noop"),
    ]
    outcomes += [
        ReplayOutcome(
            f"tx-{n}", "anthropic_messages", "m", n % 2 == 0, 1.0, "noop", newly_blocked=("Bash#1",)
        )
        for n in range(LISTED_DISAGREEMENTS + 2)
    ]
    totals = Totals()
    for outcome in outcomes:
        totals.add(outcome)
    run = ReplayRun("run1", "commands", {}, RunStatus.COMPLETED, 1.0, 2.0, len(outcomes), totals, 0.5)

    table = render_table(run, outcomes)

    rows = {line[:16].strip(): line[16:].strip() for line in table.splitlines()[1:11]}
    assert rows["calls seen"] == str(len(outcomes))
    assert rows["newly blocked"] == str(LISTED_DISAGREEMENTS + 2)
    assert rows["newly allowed"] == "1"
    assert rows["errors"] == "1"
    assert rows["cost estimate"] == "$0.5000"
    assert "... 5 more (see --json)" in table
    assert "tx-same" not in table
    assert "tx-err  openai_chat  error: policy 'x' failed closed" in table
    assert "tx-chg  openai_chat  changed" in table
    assert "tx-ok  openai_chat  newly allowed Read#2" in table
    assert "tx-0  anthropic_messages stream  newly blocked Bash#1" in table


def test_the_cost_estimate_uses_the_prices_per_million_tokens() -> None:
    assert Prices(3.0, 15.0).cost(2_000_000, 100_000) == pytest.approx(7.5)


def test_json_keeps_the_responses_of_disagreements_only() -> None:
    same = ReplayOutcome(
        "a", "openai_chat", None, False, 1.0, None, recorded_response=b"{}", replayed_response=b"{}"
    )
    odd = ReplayOutcome(
        "b",
        "openai_chat",
        None,
        False,
        1.0,
        None,
        changed=True,
        recorded_response=b"{}",
        replayed_response=b"x",
    )

    assert outcome_json(0, same)["replayed_response"] is None
    assert outcome_json(1, odd)["recorded_response"] == {}
    assert outcome_json(1, odd)["replayed_response"] == "x"
    assert "replayed_response" not in outcome_json(1, odd, with_bodies=False)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise() -> None:
    terminal, log = Terminal(), io.StringIO()
    bar, lines = ProgressBar("p", terminal), ProgressBar("p", log)
    for done in range(1, 21):
        bar(done, 20)
        lines(done, 20)

    assert terminal.getvalue().endswith("\rreplay p [" + "#" * 30 + "] 20/20\n")
    assert log.getvalue().splitlines() == [f"replay p: {n}/20" for n in range(2, 21, 2)]
