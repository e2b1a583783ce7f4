"""A translated call's answer is compared by meaning: same blocks and stop reason, whatever the API."""

from __future__ import annotations

from typing import Any

from luthien.records.meaning import same_meaning

ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [
        {"type": "text", "text": "Listing."},
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5},
}


def chat_answer(
    text: str, arguments: str = '{"command": "ls"}', finish: str = "tool_calls"
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "claude-sonnet-4-6",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "Bash", "arguments": arguments},
                        }
                    ],
                },
                "finish_reason": finish,
            }
        ],
    }


def test_the_same_answer_in_another_api_means_the_same() -> None:
    assert same_meaning(ANTHROPIC_ANSWER, "anthropic_messages", chat_answer("Listing."), "openai_chat")


def test_arguments_are_compared_parsed_not_as_text() -> None:
    assert same_meaning(
        ANTHROPIC_ANSWER, "anthropic_messages", chat_answer("Listing.", '{"command":"ls"}'), "openai_chat"
    )


def test_changed_text_arguments_or_stop_reason_mean_something_else() -> None:
    assert not same_meaning(ANTHROPIC_ANSWER, "anthropic_messages", chat_answer("LISTING."), "openai_chat")
    assert not same_meaning(
        ANTHROPIC_ANSWER, "anthropic_messages", chat_answer("Listing.", '{"command": "rm"}'), "openai_chat"
    )
    assert not same_meaning(
        ANTHROPIC_ANSWER, "anthropic_messages", chat_answer("Listing.", finish="stop"), "openai_chat"
    )


def test_an_unknown_api_or_an_unreadable_answer_counts_as_changed() -> None:
    assert not same_meaning(ANTHROPIC_ANSWER, "gemini", chat_answer("Listing."), "openai_chat")
    assert not same_meaning(ANTHROPIC_ANSWER, "anthropic_messages", {"choices": "none"}, "openai_chat")
    unknown_call = chat_answer("Listing.")
    unknown_call["choices"][0]["message"]["tool_calls"][0]["type"] = "mystery"
    assert not same_meaning(ANTHROPIC_ANSWER, "anthropic_messages", unknown_call, "openai_chat")
    unreadable = {
        **ANTHROPIC_ANSWER,
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": 3}],
    }
    assert not same_meaning(unreadable, "anthropic_messages", chat_answer("Listing."), "openai_chat")
