"""Tool calls of every shape reach the policies, and Chat keeps its fields when a policy changes text.

Responses custom and shell items, Chat custom calls, output Luthien cannot interpret (refused).

Crafted upstream streams through a real server, read back with the official `openai` SDK.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, StreamReply, anthropic_message, sse_frame
from tests.support.shipped_policies import (
    DONE,
    EVERY_POLICY,
    JUDGE_MODEL,
    MODEL,
    USER,
    Shipped,
    allow,
    chat_client,
    chunk,
    judged_arguments,
    serve,
    stream_chat,
)

RESPONSE = {"id": "resp_t", "object": "response", "created_at": 1, "model": MODEL, "status": "in_progress"}
MESSAGE = {
    "id": "msg_t",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Cleaning up.", "annotations": [], "logprobs": []}],
}
SHELL = {
    "id": "lsh_t",
    "type": "local_shell_call",
    "status": "completed",
    "call_id": "call_shell",
    "action": {"type": "exec", "command": ["rm", "-rf", "/"], "env": {}},
}
PATCH = "*** Begin Patch\n*** Delete File: /etc/passwd\n*** End Patch"
CUSTOM = {
    "id": "ctc_t",
    "type": "custom_tool_call",
    "status": "completed",
    "call_id": "call_patch",
    "name": "apply_patch",
    "input": PATCH,
}


def block(fake: FakeProvider, calls: int = 1) -> None:
    """Queue the judge's blocking verdicts."""
    verdict = json.dumps({"probability": 0.99, "explanation": "Destroys the system."})
    fake.enqueue(*(JSONReply(anthropic_message(verdict, model=JUDGE_MODEL)) for _ in range(calls)))


def responses_frames(item: dict[str, Any], *, pieces: int = 3) -> list[bytes]:
    """A Responses stream: a message, then `item` (a custom call's input streamed in `pieces`)."""
    text = MESSAGE["content"][0]
    at = {"item_id": "msg_t", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": RESPONSE},
        {"type": "response.output_item.added", "output_index": 0, "item": {**MESSAGE, "content": []}},
        {"type": "response.content_part.added", **at, "part": {**text, "text": ""}},
        {"type": "response.output_text.delta", **at, "delta": text["text"], "logprobs": []},
        {"type": "response.output_text.done", **at, "text": text["text"], "logprobs": []},
        {"type": "response.content_part.done", **at, "part": text},
        {"type": "response.output_item.done", "output_index": 0, "item": MESSAGE},
    ]
    added = {**item, "status": "in_progress"}
    if item["type"] == "custom_tool_call":
        added["input"] = ""
    events.append({"type": "response.output_item.added", "output_index": 1, "item": added})
    if item["type"] == "custom_tool_call":
        where = {"item_id": item["id"], "output_index": 1}
        size = -(-len(PATCH) // pieces)
        for start in range(0, len(PATCH), size):
            delta = PATCH[start : start + size]
            events.append({"type": "response.custom_tool_call_input.delta", **where, "delta": delta})
        events.append({"type": "response.custom_tool_call_input.done", **where, "input": PATCH})
    events.append({"type": "response.output_item.done", "output_index": 1, "item": item})
    final = {**RESPONSE, "status": "completed", "output": [MESSAGE, item]}
    events.append({"type": "response.completed", "response": final})
    return [sse_frame(event["type"], {**event, "sequence_number": n}) for n, event in enumerate(events)]


def final_output(server: Any) -> list[Any]:
    with chat_client(server) as client, client.responses.stream(model=MODEL, input="Tidy up.") as stream:
        for _ in stream:
            pass
        return list(stream.get_final_response().output)


BLOCKS_SHELL = {"block_commands", "tool_call_judge", "simple_tool_call_judge"}


@EVERY_POLICY
def test_a_local_shell_call_is_read_by_every_policy(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    # A `local_shell_call` is a tool call: the judges judge it, block_commands reads its command.
    fake.enqueue(StreamReply(responses_frames(SHELL)))
    if policy.judges:
        block(fake)
    server = serve(make_luthien, fake, policy.name)

    output = final_output(server)

    types = [item.type for item in output]
    if policy.name in BLOCKS_SHELL:
        assert "local_shell_call" not in types
        assert any("rm -rf /" in item.content[0].text for item in output if item.type == "message")
    else:
        [shell] = [item for item in output if item.type == "local_shell_call"]
        assert (shell.call_id, shell.action.command) == ("call_shell", ["rm", "-rf", "/"])
    if policy.judges:
        [arguments] = judged_arguments(server)
        assert arguments["command"] == "rm -rf /"
        assert arguments["argv"] == ["rm", "-rf", "/"]


@EVERY_POLICY
def test_a_custom_tool_call_is_read_by_every_policy(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    # A freeform (`custom_tool_call`) call is judged with its input as `{"input": ...}`; allowed, or
    # under a policy that does not judge, it arrives whole in its own shape.
    fake.enqueue(StreamReply(responses_frames(CUSTOM)))
    if policy.judges:
        allow(fake, 1)
    server = serve(make_luthien, fake, policy.name)

    output = final_output(server)

    [call] = [item for item in output if item.type == "custom_tool_call"]
    assert (call.call_id, call.name, call.input) == ("call_patch", "apply_patch", PATCH)
    if policy.judges:
        assert judged_arguments(server) == [{"input": PATCH}]


@pytest.mark.parametrize("policy", ["tool_call_judge", "simple_tool_call_judge"])
def test_a_custom_tool_call_the_judge_blocks_never_reaches_the_client(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: str
) -> None:
    fake.enqueue(StreamReply(responses_frames(CUSTOM)))
    block(fake)
    server = serve(make_luthien, fake, policy)
    events: list[str] = []

    with chat_client(server) as client, client.responses.stream(model=MODEL, input="Tidy up.") as stream:
        events.extend(event.type for event in stream)
        output = stream.get_final_response().output

    assert [item.type for item in output] == ["message", "message"]
    assert not any("custom_tool_call" in event for event in events)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
@EVERY_POLICY
def test_an_output_item_luthien_cannot_read_is_refused(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped, stream: bool
) -> None:
    # An item type no policy can interpret (it might be a tool call) never reaches the client unread.
    unknown = {"id": "x_t", "type": "teleport_call", "status": "completed", "call_id": "c", "to": "prod"}
    if stream:
        fake.enqueue(StreamReply(responses_frames(unknown)))
    else:
        fake.enqueue(JSONReply({**RESPONSE, "status": "completed", "output": [MESSAGE, unknown]}))
    server = serve(make_luthien, fake, policy.name)
    reads = policy.name not in ("noop",)

    with chat_client(server) as client:
        if not stream:
            if reads:
                with pytest.raises(openai.APIStatusError) as caught:
                    client.responses.create(model=MODEL, input="Go.")
                assert caught.value.status_code == 502
            else:
                body = client.responses.create(model=MODEL, input="Go.")
                assert [item.type for item in body.output] == ["message", "teleport_call"]
            return
        with client.responses.stream(model=MODEL, input="Go.") as events:
            seen = [event.type for event in events]

    assert ("error" in seen) is reads
    if reads:
        assert "response.completed" not in seen


# -- Chat custom tool calls -----------------------------------------------------------------------------


def custom_chunks(call_input: str) -> list[bytes]:
    start = {"index": 0, "id": "call_c", "type": "custom", "custom": {"name": "apply_patch", "input": ""}}
    half = len(call_input) // 2
    return [
        chunk({"role": "assistant", "content": "Patching."}),
        chunk({"tool_calls": [start]}),
        chunk({"tool_calls": [{"index": 0, "custom": {"input": call_input[:half]}}]}),
        chunk({"tool_calls": [{"index": 0, "custom": {"input": call_input[half:]}}]}),
        chunk({}, "tool_calls"),
        DONE,
    ]


@EVERY_POLICY
def test_a_chat_custom_tool_call_is_read_by_every_policy(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    fake.enqueue(StreamReply(custom_chunks(PATCH)))
    if policy.judges:
        allow(fake, 1)
    server = serve(make_luthien, fake, policy.name)

    with chat_client(server) as client, client.chat.completions.stream(model=MODEL, messages=USER) as stream:
        for _ in stream:
            pass
        body = stream.current_completion_snapshot.model_dump()

    [call] = body["choices"][0]["message"]["tool_calls"]
    assert (call["id"], call["type"]) == ("call_c", "custom")
    assert call["custom"] == {"name": "apply_patch", "input": PATCH}
    if policy.judges:
        assert judged_arguments(server) == [{"input": PATCH}]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_a_chat_custom_tool_call_the_judge_blocks_never_reaches_the_client(
    make_luthien: LuthienFactory, fake: FakeProvider, stream: bool
) -> None:
    if stream:
        fake.enqueue(StreamReply(custom_chunks(PATCH)))
    else:
        custom = {"id": "call_c", "type": "custom", "custom": {"name": "apply_patch", "input": PATCH}}
        body = {
            "id": "chatcmpl-t",
            "object": "chat.completion",
            "created": 1,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Patching.", "tool_calls": [custom]},
                    "finish_reason": "tool_calls",
                }
            ],
        }
        fake.enqueue(JSONReply(body))
    block(fake)
    server = serve(make_luthien, fake, "tool_call_judge")

    if stream:
        completion = stream_chat(server)
    else:
        with chat_client(server) as client:
            completion = client.chat.completions.create(model=MODEL, messages=USER)

    message = completion.choices[0].message
    assert message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"
    assert judged_arguments(server) == [{"input": PATCH}]


@pytest.mark.parametrize("policy", ["tool_call_judge", "block_commands", "all_caps"])
def test_a_chat_tool_call_of_an_unknown_type_is_refused(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: str
) -> None:
    start = {"index": 0, "id": "call_x", "type": "teleport", "teleport": {"to": "prod"}}
    fake.enqueue(
        StreamReply(
            [
                chunk({"role": "assistant", "content": "Go."}),
                chunk({"tool_calls": [start]}),
                chunk({}, "tool_calls"),
                DONE,
            ]
        )
    )
    server = serve(make_luthien, fake, policy)

    with pytest.raises(openai.APIError):
        stream_chat(server)


# -- Chat fields kept when a policy changes the text ----------------------------------------------------

ANNOTATION = {
    "type": "url_citation",
    "url_citation": {"url": "https://example.com", "title": "Ex", "start_index": 0, "end_index": 4},
}
LOGPROBS = {"content": [{"token": "x", "logprob": -0.5, "bytes": [120], "top_logprobs": []}], "refusal": None}


def annotated_chunk(content: str, **fields: Any) -> bytes:
    choice = {
        "index": 0,
        "delta": {"content": content, **fields},
        "logprobs": LOGPROBS,
        "finish_reason": None,
    }
    return chunk({}, choices=[choice])


@EVERY_POLICY
def test_chat_annotations_and_logprobs_survive_a_text_change(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    frames = [
        chunk({"role": "assistant", "content": ""}),
        annotated_chunk("docs ", annotations=[ANNOTATION]),
        annotated_chunk("here"),
        chunk({}, "stop"),
        DONE,
    ]
    fake.enqueue(StreamReply(frames))
    server = serve(make_luthien, fake, policy.name)
    chunks: list[dict[str, Any]] = []

    with (
        chat_client(server) as client,
        client.chat.completions.create(model=MODEL, messages=USER, stream=True) as stream,
    ):
        chunks.extend(item.model_dump(exclude_unset=True) for item in stream)

    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert "".join(t or "" for t in texts) == policy.text("docs here")
    annotated = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("annotations")]
    assert [c["choices"][0]["delta"]["annotations"] for c in annotated] == [[ANNOTATION]]
    pieces = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    # Logprobs describe the model's tokens: kept for a piece as the model sent it, null for text the
    # policy changed (or re-cut, as string_replace's holdback does).
    assert pieces
    for piece in pieces:
        assert (piece.get("logprobs") == LOGPROBS) is (piece["delta"]["content"] in ("docs ", "here"))


@pytest.mark.parametrize("policy", ["noop", "all_caps"])
def test_chat_body_annotations_kept_and_logprobs_of_changed_text_dropped(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: str
) -> None:
    message = {"role": "assistant", "content": "docs here", "annotations": [ANNOTATION]}
    choice = {"index": 0, "message": message, "logprobs": LOGPROBS, "finish_reason": "stop"}
    body = {
        "id": "chatcmpl-t",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [choice],
    }
    fake.enqueue(JSONReply(body))
    server = serve(make_luthien, fake, policy)

    with chat_client(server) as client:
        completion = client.chat.completions.create(model=MODEL, messages=USER).model_dump()

    [got] = completion["choices"]
    assert got["message"]["annotations"] == [ANNOTATION]
    changed = policy == "all_caps"
    assert got["message"]["content"] == ("DOCS HERE" if changed else "docs here")
    assert got["logprobs"]["content"] == (None if changed else LOGPROBS["content"])
