"""Stream assembly: each API's stream becomes the whole message that API returns without streaming.

The fake provider's builders make a stream and the whole body with the same content and ids, so
the assembled stream must equal the body; the edge cases (cut streams, error events, invalid tool
input, frames split anywhere, several choices) are built by hand.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from luthien.records.assemble import assemble_stream
from tests.fake_provider import (
    ToolCall,
    anthropic_error_event,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    responses_error_event,
    responses_stream,
    sse_frame,
)

ANTHROPIC = "anthropic_messages"
CHAT = "openai_chat"
RESPONSES = "openai_responses"
CALL = ToolCall("toolu_01AbCdEfGhIjKlMnOpQrStUv", "Bash", {"command": "ls -la", "description": "list"})


def every_byte(frames: list[bytes]) -> list[bytes]:
    """The stream cut into one-byte chunks: frames split anywhere must assemble the same."""
    joined = b"".join(frames)
    return [joined[i : i + 1] for i in range(len(joined))]


def data_of(frame: bytes) -> dict[str, Any]:
    line = next(line for line in frame.decode().split("\n") if line.startswith("data: "))
    return orjson.loads(line.removeprefix("data: "))


@pytest.mark.parametrize("split", [False, True], ids=["frames", "bytes"])
def test_anthropic_stream_assembles_to_the_whole_message(split: bool) -> None:
    arguments = {"thinking": "Let me think.", "tool_calls": [CALL], "message_id": "msg_01Same", "usage": {}}
    frames = anthropic_stream("Here you go.", text_chunks=4, **arguments)

    assembly = assemble_stream(ANTHROPIC, every_byte(frames) if split else frames)

    assert assembly.message == anthropic_message("Here you go.", **arguments)
    assert assembly.complete
    assert assembly.error is None


def test_anthropic_first_output_is_the_first_delta() -> None:
    frames = anthropic_stream("Hi.", text_chunks=1)  # message_start, ping, block start, delta, ...

    assert assemble_stream(ANTHROPIC, frames).first_output_chunk == 3


def test_anthropic_tool_input_that_is_not_json_is_kept_as_sent() -> None:
    frames = anthropic_stream("", tool_calls=[ToolCall("toolu_01Cut", "Bash", '{"command": "rm -')])

    message = assemble_stream(ANTHROPIC, frames).message

    assert message is not None
    assert message["content"] == [
        {"type": "tool_use", "id": "toolu_01Cut", "name": "Bash", "input": '{"command": "rm -'}
    ]


def test_anthropic_cut_stream_keeps_what_arrived_and_is_incomplete() -> None:
    frames = anthropic_stream("one two three", text_chunks=3, tool_calls=[CALL])
    # message_start, ping, text start + 3 deltas + stop, tool start + 2 of its deltas; no stops.
    assembly = assemble_stream(ANTHROPIC, frames[:10])

    assert not assembly.complete
    assert assembly.message is not None
    text, call = assembly.message["content"]
    assert text == {"type": "text", "text": "one two three"}
    assert call["name"] == "Bash"
    assert isinstance(call["input"], str)  # the partial JSON, kept as sent


def test_anthropic_error_event_ends_the_stream_with_its_message() -> None:
    frames = [*anthropic_stream("Hello")[:4], anthropic_error_event("overloaded_error", "Overloaded")]

    assembly = assemble_stream(ANTHROPIC, frames)

    assert assembly.error == "Overloaded"
    assert assembly.complete


def test_anthropic_citations_are_collected() -> None:
    citation = {"type": "char_location", "cited_text": "x", "document_index": 0}
    frames = [
        sse_frame(
            "message_start",
            {"type": "message_start", "message": {"id": "m", "type": "message", "content": []}},
        ),
        sse_frame(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        sse_frame(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "citations_delta", "citation": citation},
            },
        ),
        sse_frame("message_stop", {"type": "message_stop"}),
    ]

    message = assemble_stream(ANTHROPIC, frames).message

    assert message is not None
    assert message["content"] == [{"type": "text", "text": "", "citations": [citation]}]


def test_a_stream_with_nothing_in_it_has_no_message() -> None:
    assembly = assemble_stream(ANTHROPIC, [b": keep-alive\n\n", b"data: not json\n\n"])

    assert assembly.message is None
    assert assembly.first_output_chunk is None
    assert not assembly.complete


@pytest.mark.parametrize("split", [False, True], ids=["frames", "bytes"])
def test_chat_stream_assembles_to_the_whole_completion(split: bool) -> None:
    call = ToolCall("call_AbCdEfGhIjKlMnOpQrStUvWx", "get_weather", {"city": "Paris"})
    arguments: dict[str, Any] = {
        "tool_calls": [call],
        "completion_id": "chatcmpl-Same",
        "created": 1_700_000_000,
    }
    frames = chat_stream("Checking.", text_chunks=4, **arguments)

    assembly = assemble_stream(CHAT, every_byte(frames) if split else frames)

    expected = chat_completion("Checking.", **arguments)
    del expected["choices"][0]["message"]["annotations"]  # a field of whole messages only
    assert assembly.message == expected
    assert assembly.complete


def test_chat_without_usage_or_done_is_incomplete_and_has_no_usage() -> None:
    frames = chat_stream("Hi.", include_usage=False, done=False)

    assembly = assemble_stream(CHAT, frames)

    assert not assembly.complete
    assert assembly.message is not None
    assert "usage" not in assembly.message
    assert assembly.message["choices"][0]["message"]["content"] == "Hi."


def test_chat_several_choices_refusal_and_logprobs() -> None:
    def chunk(choices: list[dict[str, Any]]) -> bytes:
        return sse_frame(
            None,
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices},
        )

    token = {"token": "No", "logprob": -0.1, "bytes": None, "top_logprobs": []}
    frames = [
        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
        chunk([{"index": 1, "delta": {"role": "assistant", "refusal": "I can't"}, "finish_reason": None}]),
        chunk(
            [
                {
                    "index": 0,
                    "delta": {"content": "Yes"},
                    "logprobs": {"content": [token]},
                    "finish_reason": None,
                }
            ]
        ),
        chunk([{"index": 1, "delta": {"refusal": " help."}, "finish_reason": "stop"}]),
        chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        b"data: [DONE]",  # a last frame without its blank line
    ]

    assembly = assemble_stream(CHAT, frames)

    assert assembly.complete
    assert assembly.first_output_chunk == 1
    assert assembly.message is not None
    first, second = assembly.message["choices"]
    assert first["message"] == {"role": "assistant", "content": "Yes"}
    assert first["logprobs"] == {"content": [token]}
    assert second["message"] == {"role": "assistant", "content": None, "refusal": "I can't help."}
    assert second["logprobs"] is None


def test_chat_error_chunk_is_the_error() -> None:
    frames = [
        *chat_stream("Hi.")[:2],
        sse_frame(None, {"error": {"message": "upstream broke", "type": "server_error"}}),
    ]

    assert assemble_stream(CHAT, frames).error == "upstream broke"


@pytest.mark.parametrize("split", [False, True], ids=["frames", "bytes"])
def test_responses_stream_assembles_to_its_terminal_response(split: bool) -> None:
    call = ToolCall("call_AbCdEfGhIjKlMnOpQrStUvWx", "get_weather", {"city": "Paris"})
    frames = responses_stream("Checking.", tool_calls=[call], reasoning="Think.")

    assembly = assemble_stream(RESPONSES, every_byte(frames) if split else frames)

    assert assembly.message == data_of(frames[-1])["response"]
    assert assembly.complete
    assert assembly.error is None
    assert assembly.first_output_chunk is not None


def test_responses_incomplete_status_is_a_complete_stream() -> None:
    frames = responses_stream("Cut at the limit.", status="incomplete")

    assembly = assemble_stream(RESPONSES, frames)

    assert assembly.complete
    assert assembly.error is None
    assert assembly.message is not None
    assert assembly.message["status"] == "incomplete"


def test_responses_cut_stream_keeps_the_items_that_finished() -> None:
    call = ToolCall("call_Cut", "get_weather", {"city": "Paris"})
    frames = responses_stream("Checking.", tool_calls=[call])
    cut_at = (
        next(i for i, frame in enumerate(frames) if data_of(frame)["type"] == "response.output_item.done") + 1
    )

    assembly = assemble_stream(RESPONSES, frames[:cut_at])

    assert not assembly.complete
    assert assembly.message is not None
    assert assembly.message["status"] == "in_progress"
    (item,) = assembly.message["output"]
    assert item["type"] == "message"


def test_responses_error_event_and_failed_response() -> None:
    frames = responses_stream("Hi.")
    errored = assemble_stream(
        RESPONSES, [*frames[:3], responses_error_event("server_error", "broke", sequence_number=3)]
    )
    failed_response = {
        **data_of(frames[-1])["response"],
        "status": "failed",
        "error": {"code": "x", "message": "failed hard"},
    }
    failed = assemble_stream(
        RESPONSES,
        [*frames[:2], sse_frame("response.failed", {"type": "response.failed", "response": failed_response})],
    )

    assert errored.error == "broke"
    assert errored.message is not None
    assert failed.error == "failed hard"
    assert failed.complete


def test_crlf_line_endings_and_multi_line_data_assemble_the_same() -> None:
    frames = anthropic_stream("Line endings.", tool_calls=[CALL], message_id="msg_01Crlf")
    crlf = [frame.replace(b"\n", b"\r\n") for frame in frames]
    # A payload split over two `data:` lines is the same JSON (the lines join with a newline).
    split_data = [frame.replace(b'data: {"type"', b'data: {\ndata: "type"', 1) for frame in frames]

    expected = assemble_stream(ANTHROPIC, frames)

    assert assemble_stream(ANTHROPIC, crlf) == expected
    assert assemble_stream(ANTHROPIC, every_byte(crlf)).message == expected.message
    assert assemble_stream(ANTHROPIC, split_data) == expected
