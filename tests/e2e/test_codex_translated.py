"""The real Codex CLI (`wire_api = "responses"`) on models routed to upstreams of other APIs.

Codex speaks only the Responses API; here its model is routed to an `anthropic` upstream (the fake
provider) and to an `openai-chat` upstream (a Chat-only fake that answers 404 elsewhere, like vLLM),
so every call is translated both ways. Checked on each: a text turn; a command round trip
(`exec_command` really runs, its output goes back as the upstream's own tool result under the
upstream's call id); and Codex's remote compaction (`luthien.translation.compaction`): Codex, told
the context is full, sends its `compaction_trigger`, the upstream's model is asked for a summary, the
answer (rewritten by a `string_replace` policy on the way) is the one `compaction` item Codex
accepts, and Codex's next request brings the summary back to the upstream as text.

The bodies the real CLI sent are replayed on the same routes in test_codex_translated_replays.py.

Codex runs as users run it: its built-in `web_search` tool, which no other API has, is left out of
the translated request by default (`LUTHIEN_TRANSLATION_DROPPED_TOOL_TYPES`), so no Codex setting is
needed; the upstream never sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from luthien.records.model import TransactionStatus
from luthien.records.query import TransactionFilter
from luthien.translation.compaction import SUMMARY_PREFIX, SUMMARY_PROMPT, open_summary
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    ReceivedRequest,
    Reply,
    ToolCall,
)
from tests.support.cli_agents import FINAL_TEXT, AgentFolders
from tests.support.codex import (
    CLIENT_KEY,
    OPENAI_PROVIDER_NAME,
    SHELL_TOOL,
    completed_items,
    run_codex,
    skip_without_codex,
)
from tests.support.codex_translated import SUMMARY, UPSTREAMS, Upstream, model_calls, start, texts, tool_names
from tests.support.records import record_of, stored_summaries

GREETING = "Hello from a translated model."
CALL_ID = "toolu_codex_01"
MARKER_TEXT = "luthien-was-here"
POLICY_FIND, POLICY_REPLACE = "Nothing remains to do.", "The task is complete."
CONTEXT_WINDOW = 20_000
AUTO_COMPACT_LIMIT = 2_000
COMPACTING = (
    f"model_context_window={CONTEXT_WINDOW}",
    f"model_auto_compact_token_limit={AUTO_COMPACT_LIMIT}",
)


def agent(
    upstream: Upstream, command: str | None, *, full: bool = False
) -> Callable[[ReceivedRequest], Reply | None]:
    """The upstream model: greets (no command), or runs `command` once then finishes; summarizes when asked.

    `full`: the command's turn reports a context far past Codex's compaction limit.
    """

    def respond(request: ReceivedRequest) -> Reply | None:
        if request.path != upstream.path:
            return None
        body = request.json()
        messages: list[dict[str, Any]] = body["messages"]
        if SUMMARY_PROMPT in texts(messages[-1]):
            return upstream.reply(SUMMARY, [], False, True)
        if command is None:
            return upstream.reply(GREETING, [], False, True)
        summarized = any(text.startswith(SUMMARY_PREFIX) for message in messages for text in texts(message))
        if upstream.tool_results(body) or summarized:
            return upstream.reply(FINAL_TEXT, [], False, True)
        return upstream.reply("", [ToolCall(CALL_ID, SHELL_TOOL, {"cmd": command})], full, True)

    return respond


@skip_without_codex
@UPSTREAMS
def test_a_text_turn(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider, tmp_path: Path, api: str
) -> None:
    setup = start(make_luthien, fake, local, api)
    setup.model.respond_with(agent(setup.upstream, None))

    events = run_codex(setup.server.base_url, tmp_path, tmp_path, "Say hello.")

    assert [item["text"] for item in completed_items(events, "agent_message")] == [GREETING]
    (body,) = model_calls(setup)
    assert "Say hello." in [text for message in body["messages"] for text in texts(message)]
    # Codex offered `web_search` (a built-in no other API has): left out; its own tools are there.
    assert SHELL_TOOL in tool_names(body)
    assert "web_search" not in tool_names(body)
    (received,) = [request for request in setup.model.requests if request.path == setup.upstream.path]
    name, value = setup.upstream.auth
    assert received.headers[name] == value
    assert CLIENT_KEY not in str(received.headers)


@skip_without_codex
@UPSTREAMS
def test_a_command_round_trip(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider, folders: AgentFolders, api: str
) -> None:
    workspace, home, _ = folders
    marker = workspace / "marker.txt"
    setup = start(make_luthien, fake, local, api)
    setup.model.respond_with(agent(setup.upstream, f"echo {MARKER_TEXT} | tee {marker}"))

    events = run_codex(setup.server.base_url, workspace, home, "Leave a marker file.")

    assert marker.read_text().strip() == MARKER_TEXT  # the command really ran
    (command,) = completed_items(events, "command_execution")
    assert MARKER_TEXT in command["aggregated_output"]
    assert [item["text"] for item in completed_items(events, "agent_message")] == [FINAL_TEXT]
    first, second = model_calls(setup)
    assert setup.upstream.tool_results(first) == []
    # The command's output reaches the upstream as its own tool result, under its own call id.
    ((call_id, output),) = setup.upstream.tool_results(second)
    assert call_id == CALL_ID
    assert MARKER_TEXT in output


@skip_without_codex
@UPSTREAMS
def test_real_codex_compacts_on_a_translated_route(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider, folders: AgentFolders, api: str
) -> None:
    workspace, home, _ = folders
    marker = workspace / "marker.txt"
    policies = {
        "rewrite": {
            "class": "string_replace",
            "config": {"replacements": [{"find": POLICY_FIND, "replace": POLICY_REPLACE}]},
        }
    }
    setup = start(make_luthien, fake, local, api, policies=policies, policy="rewrite")
    setup.model.respond_with(agent(setup.upstream, f"echo {MARKER_TEXT} | tee {marker}", full=True))

    events = run_codex(
        setup.server.base_url,
        workspace,
        home,
        "Leave a marker file.",
        provider_name=OPENAI_PROVIDER_NAME,  # Codex compacts on the server only for this name
        config=COMPACTING,
    )

    assert marker.read_text().strip() == MARKER_TEXT
    assert [item["text"] for item in completed_items(events, "agent_message")] == [FINAL_TEXT]
    turn, summarize, after = model_calls(setup)
    assert setup.upstream.tool_results(turn) == []
    # The compaction request: the history with the command's result, then the summary prompt.
    assert [call_id for call_id, _ in setup.upstream.tool_results(summarize)] == [CALL_ID]
    assert texts(summarize["messages"][-1])[-1] == SUMMARY_PROMPT
    assert summarize["tool_choice"] in ({"type": "none"}, "none")
    # Codex's next request carried our compaction item back; the upstream reads the summary as
    # the policy left it.
    rewritten = SUMMARY.replace(POLICY_FIND, POLICY_REPLACE)
    after_texts = [text for message in after["messages"] for text in texts(message)]
    assert SUMMARY_PREFIX + rewritten in after_texts
    assert setup.upstream.tool_results(after) == []  # compacted away
    records = [
        record_of(setup.server, summary.transaction_id)
        for summary in stored_summaries(setup.server, TransactionFilter(), count=3)
    ]
    # No call failed; a call whose answer the policy left alone is `ok` (the translation alone
    # changes nothing a record calls a change), even when Codex hangs up right after
    # `response.completed`.
    assert {record.status for record in records} <= {TransactionStatus.OK, TransactionStatus.CHANGED}
    (compacting,) = [record for record in records if b"compaction_trigger" in record.original_request]
    assert compacting.status is TransactionStatus.CHANGED  # the policy rewrote the summary
    assert compacting.final_response is not None
    (sent,) = _json(compacting.final_response)["output"]  # what Codex received: the one item
    assert sent["type"] == "compaction"
    assert open_summary(sent["encrypted_content"]) == rewritten
    inputs: list[list[dict[str, Any]]] = [_json(record.original_request)["input"] for record in records]
    (returned,) = [item for items in inputs for item in items if item.get("type") == "compaction"]
    assert returned == sent  # Codex sent it back unchanged


def _json(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(body)
    return data
