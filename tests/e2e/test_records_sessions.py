"""The agent session of a call, from each source an agent uses, through the official SDKs.

Claude Code's `X-Claude-Code-Session-Id` header, Codex's `session-id` header, Anthropic
`metadata.user_id` (Claude Code's JSON string, and the older plain form), OpenAI `user` and
`prompt_cache_key`; the headers win over the body; no source, no session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.fake_provider import FakeProvider, JSONReply, anthropic_message, chat_completion, response_object
from tests.support.records import Sdks, open_sdks, record_of
from tests.support.servers import LuthienServer

SESSION = "5f0c1b7e-2d4a-4c8e-9b1f-0a6d3e7c9b21"
USER: Any = [{"role": "user", "content": "hi"}]
CLAUDE_CODE_USER_ID = orjson.dumps(
    {"device_id": "a" * 64, "account_uuid": "3c0e7a52-5a8e-4a4e-8a51-6f7b1b1f2d3c", "session_id": SESSION}
).decode()
PLAIN_USER_ID = f"user_{'b' * 64}_account_3c0e7a52-5a8e-4a4e-8a51-6f7b1b1f2d3c_session_{SESSION}"


@pytest.fixture
def sdks(luthien: LuthienServer) -> Iterator[Sdks]:
    with open_sdks(luthien.base_url) as clients:
        yield clients


def anthropic_call(sdks: Sdks, fake: FakeProvider, **params: Any) -> None:
    fake.enqueue(JSONReply(anthropic_message("Hello.")))
    sdks.anthropic.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER, **params)


def chat_call(sdks: Sdks, fake: FakeProvider, **params: Any) -> None:
    fake.enqueue(JSONReply(chat_completion("Hello.")))
    sdks.openai.chat.completions.create(model="gpt-5", messages=USER, **params)


def responses_call(sdks: Sdks, fake: FakeProvider, **params: Any) -> None:
    fake.enqueue(JSONReply(response_object("Hello.")))
    sdks.openai.responses.create(model="gpt-5", input="hi", **params)


CASES: dict[str, tuple[Any, dict[str, Any], str | None]] = {
    "claude-code-header": (anthropic_call, {"extra_headers": {"X-Claude-Code-Session-Id": SESSION}}, SESSION),
    "codex-header": (responses_call, {"extra_headers": {"session-id": SESSION}}, SESSION),
    "claude-code-metadata-json": (anthropic_call, {"metadata": {"user_id": CLAUDE_CODE_USER_ID}}, SESSION),
    "claude-code-metadata-plain": (anthropic_call, {"metadata": {"user_id": PLAIN_USER_ID}}, SESSION),
    "anthropic-metadata-other": (anthropic_call, {"metadata": {"user_id": "team-42"}}, "team-42"),
    "chat-user": (chat_call, {"user": "alice@example.com"}, "alice@example.com"),
    "chat-prompt-cache-key": (chat_call, {"prompt_cache_key": SESSION}, SESSION),
    "responses-prompt-cache-key": (responses_call, {"prompt_cache_key": SESSION}, SESSION),
    "header-wins-over-body": (
        anthropic_call,
        {
            "extra_headers": {"X-Claude-Code-Session-Id": "from-header"},
            "metadata": {"user_id": CLAUDE_CODE_USER_ID},
        },
        "from-header",
    ),
    "user-before-prompt-cache-key": (chat_call, {"user": "alice", "prompt_cache_key": SESSION}, "alice"),
    "anthropic-none": (anthropic_call, {}, None),
    "chat-none": (chat_call, {}, None),
    "responses-none": (responses_call, {}, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_session_comes_from_what_the_agent_sends(
    luthien: LuthienServer, fake: FakeProvider, sdks: Sdks, case: str
) -> None:
    make_call, params, expected = CASES[case]

    make_call(sdks, fake, **params)

    assert record_of(luthien, sdks.last_transaction).session_id == expected
