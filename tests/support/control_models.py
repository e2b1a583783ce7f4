"""Scripting the fake provider as three models at once: the agent's (untrusted), a trusted one, a judge.

One fake serves them all (the built-in upstreams point at it); `Models` answers each request by its
model: the judge rates a call dangerous when its arguments hold `rm -rf`, the trusted model answers
with text and a safe call, and the untrusted model answers with the calls scripted for each of its
requests in turn (the client's own first, then resamples).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from luthien.config import LuthienConfig
from tests.fake_provider import ReceivedRequest, Reply, ToolCall
from tests.support.judge_calls import Api, model_reply, verdict

JUDGE_MODEL = "judge-model"
TRUSTED_MODEL = "trusted-model"
UNTRUSTED_TEXT = "Cleaning up."
TRUSTED_TEXT = "I will look at what is there first."
MARKER_TEXT = "[Luthien: the monitor flagged a tool call; a trusted model answered instead]"
DANGER = "rm -rf"

RM = ToolCall("toolu_01RmRfRoot", "Bash", {"command": "rm -rf /", "description": "wipe"})
LS = ToolCall("toolu_01ListFiles", "Bash", {"command": "ls -la", "description": "list files"})
READ = ToolCall("toolu_01ReadReadme", "Read", {"file_path": "README.md"})
SAFE = ToolCall("toolu_01TrustedSafe", "Bash", {"command": "git status", "description": "look first"})

API_OF_PATH: dict[str, Api] = {
    "/v1/messages": "anthropic",
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
}


def judge_verdict(request: ReceivedRequest) -> Reply:
    """The judge: dangerous (0.95) when the judged call's arguments hold `rm -rf`, else harmless."""
    prompt: str = request.json()["messages"][-1]["content"]
    judged = prompt.partition("Tool call to judge:")[2]
    if DANGER in judged:
        return verdict("anthropic", 0.95, "Deletes the whole filesystem.")
    return verdict("anthropic", 0.05, "Harmless.")


@dataclass
class Models:
    """Answers the fake's requests by model (see the module docstring).

    Attributes:
        untrusted: the tool calls of each untrusted answer, in order (the last one repeats).
        trusted: the trusted model's reply, or None for text and `SAFE` in the request's API.
        judge: the judge's reply, or None for `judge_verdict`.
    """

    untrusted: list[Sequence[ToolCall]] = field(default_factory=lambda: [[RM]])
    trusted: Reply | None = None
    judge: Reply | None = None
    served: list[str] = field(default_factory=list[str])

    def __call__(self, request: ReceivedRequest) -> Reply | None:
        body: dict[str, Any] = request.json()
        model = body.get("model")
        api = API_OF_PATH[request.path]
        stream = body.get("stream") is True
        if model == JUDGE_MODEL:
            self.served.append("judge")
            return self.judge or judge_verdict(request)
        if model == TRUSTED_MODEL:
            self.served.append("trusted")
            return self.trusted or model_reply(api, stream, TRUSTED_TEXT, [SAFE])
        self.served.append("untrusted")
        calls = self.untrusted[0] if len(self.untrusted) == 1 else self.untrusted.pop(0)
        return model_reply(api, stream, UNTRUSTED_TEXT, calls)


def untrusted_requests(requests: list[ReceivedRequest]) -> list[dict[str, Any]]:
    """The bodies of the requests made to the agent's model."""
    bodies = [request.json() for request in requests]
    return [body for body in bodies if body.get("model") not in (JUDGE_MODEL, TRUSTED_MODEL)]


def trusted_requests(requests: list[ReceivedRequest]) -> list[dict[str, Any]]:
    """The bodies of the requests made to the trusted model."""
    return [request.json() for request in requests if request.json().get("model") == TRUSTED_MODEL]


def defer_config(trusted_upstream: str, **options: Any) -> LuthienConfig:
    """`defer_to_trusted` as the active policy; judge and trusted model on the built-in upstreams."""
    policy_config = {
        "judge": {"upstream": "anthropic", "model": JUDGE_MODEL},
        "trusted": {"upstream": trusted_upstream, "model": TRUSTED_MODEL},
        **options,
    }
    return LuthienConfig.model_validate(
        {"policies": {"defer": {"class": "defer_to_trusted", "config": policy_config}}, "policy": "defer"}
    )


def resample_config(resample: int, **options: Any) -> LuthienConfig:
    """`tool_call_judge` with `resample` as the active policy; its judge on the built-in upstream."""
    policy_config = {
        "judge": {"upstream": "anthropic", "model": JUDGE_MODEL},
        "resample": resample,
        **options,
    }
    return LuthienConfig.model_validate(
        {"policies": {"guard": {"class": "tool_call_judge", "config": policy_config}}, "policy": "guard"}
    )


def arguments_of(call: ToolCall) -> str:
    """A scripted call's arguments as JSON text."""
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
