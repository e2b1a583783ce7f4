"""The real Claude Code CLI on a model routed to an `openai-chat` upstream (a vLLM-like fake).

Claude Code speaks Anthropic Messages; the upstream serves only Chat Completions (404 elsewhere), so
every call is translated both ways. The judge's own upstream is the same Chat-only server. Checked: a
text turn, a Bash tool round trip (the command runs, the next turn carries its result under the
upstream's call id), and a dangerous Bash call blocked by `tool_call_judge`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    ReceivedRequest,
    Reply,
    StreamReply,
    ToolCall,
    chat_completion,
    chat_stream,
)
from tests.support.claude_code import run_claude, skip_without_claude_code
from tests.support.cli_agents import FINAL_TEXT, JUDGE_MODEL, JUDGE_TIMEOUT_S, PRECIOUS_TEXT, AgentFolders

pytestmark = skip_without_claude_code

PROXY_KEY = "luthien-proxy-key"
LOCAL_KEY = "local-server-key"
LOCAL_MODEL = "qwen3-coder"
CALL_ID = "call_bash_01"


def tool_results(request: ReceivedRequest) -> list[str]:
    """The `tool_call_id`s of a Chat request's tool messages."""
    return [
        message["tool_call_id"] for message in request.json().get("messages", []) if message["role"] == "tool"
    ]


def agent(
    command: str | None, probability: float, text: str = "Running the command."
) -> Callable[[ReceivedRequest], Reply | None]:
    """The local model: asks for `command` in Bash once (or just answers `text`), then finishes.

    Judge requests get a verdict of `probability`; side requests without tools (titles) the default.
    """
    verdict = json.dumps({"probability": probability, "explanation": "judged by the test"})

    def respond(request: ReceivedRequest) -> Reply | None:
        if request.path != "/v1/chat/completions":
            return None
        body = request.json()
        if body.get("model") == JUDGE_MODEL:
            return JSONReply(chat_completion(verdict))
        if not body.get("tools"):
            return None
        if command is None:
            return StreamReply(chat_stream(text))
        if tool_results(request):
            return StreamReply(chat_stream(FINAL_TEXT))
        call = ToolCall(CALL_ID, "Bash", {"command": command, "description": "run the command"})
        return StreamReply(chat_stream(text, tool_calls=[call]))

    return respond


def config_for(local: FakeProvider) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {
            "upstreams": {
                "local": {"format": "openai-chat", "base_url": f"{local.base_url}/v1", "api_key": LOCAL_KEY}
            },
            "routes": [{"model": "*", "upstream": "local"}],
            "policies": {
                "judge": {
                    "class": "tool_call_judge",
                    "config": {
                        "judge": {"upstream": "local", "model": JUDGE_MODEL},
                        "timeout_s": JUDGE_TIMEOUT_S,
                    },
                }
            },
            "policy": "judge",
        }
    )


def model_calls(local: FakeProvider) -> list[ReceivedRequest]:
    return [request for request in local.requests if request.json().get("model") != JUDGE_MODEL]


def test_a_text_turn(make_luthien: LuthienFactory, local: FakeProvider, folders: AgentFolders) -> None:
    workspace, home, _ = folders
    local.respond_with(agent(None, 0.0, "Hello from the local model."))
    server = make_luthien(config_for(local), api_key=PROXY_KEY)

    output = run_claude(server.base_url, workspace, home, "Say hello.", api_key=PROXY_KEY, model=LOCAL_MODEL)

    assert output["result"] == "Hello from the local model."
    calls = model_calls(local)
    assert calls
    assert {request.path for request in calls} <= {"/v1/chat/completions", "/v1/messages/count_tokens"}
    assert all(request.headers["authorization"] == f"Bearer {LOCAL_KEY}" for request in calls)


def test_a_bash_round_trip(make_luthien: LuthienFactory, local: FakeProvider, folders: AgentFolders) -> None:
    workspace, home, _ = folders
    marker = workspace / "marker.txt"
    local.respond_with(agent(f"echo luthien-was-here > {marker}", 0.02))
    server = make_luthien(config_for(local), api_key=PROXY_KEY)

    output = run_claude(
        server.base_url, workspace, home, "Leave a marker file.", api_key=PROXY_KEY, model=LOCAL_MODEL
    )

    assert marker.read_text().strip() == "luthien-was-here"
    assert output["result"] == FINAL_TEXT
    assert [tool_results(request) for request in model_calls(local) if tool_results(request)] == [[CALL_ID]]
    decisions = server.app.state.gateway.activity.events(type="judge.decision")
    assert [event.data["blocked"] for event in decisions] == [False]


def test_the_judge_blocks_a_dangerous_bash_call(
    make_luthien: LuthienFactory, local: FakeProvider, folders: AgentFolders
) -> None:
    workspace, home, precious = folders
    local.respond_with(agent(f"rm -rf {precious}", 0.97))
    server = make_luthien(config_for(local), api_key=PROXY_KEY)

    output = run_claude(
        server.base_url,
        workspace,
        home,
        "Clean up the precious directory.",
        api_key=PROXY_KEY,
        model=LOCAL_MODEL,
    )

    assert (precious / "data.txt").read_text() == PRECIOUS_TEXT
    assert "Blocked tool call" in output["result"]
    assert not any(tool_results(request) for request in model_calls(local))
    decisions = server.app.state.gateway.activity.events(type="judge.decision")
    assert [event.data["blocked"] for event in decisions] == [True]
