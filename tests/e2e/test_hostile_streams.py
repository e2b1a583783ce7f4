"""Hostile clients and misbehaving upstreams (issue 7), through a real server and the official SDKs.

Each test replays a crafted request or upstream stream that once slipped past a policy, corrupted
what the client's SDK assembled, or broke the server, and checks what the client now gets.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from luthien.wire.sse import SSEParser
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    RawReply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    responses_stream,
    sse_frame,
)
from tests.support.servers import LuthienServer
from tests.support.shipped_policies import (
    DONE,
    EVERY_POLICY,
    JUDGE_MODEL,
    MODEL,
    USER,
    Shipped,
    allow,
    call_args,
    call_start,
    chat_client,
    chunk,
    judged_arguments,
    serve,
    shipped_config,
    stream_chat,
)
from tests.support.threaded_upstream import ThreadedUpstream

# -- 1. `n` other than 1 is refused while a policy inspects responses --------------------------------


@pytest.mark.parametrize(
    "choices",
    [2, 2.0, 1.0, "2", "1", True, 0, -1, 10**30, [2], {"n": 2}],
    ids=["2", "2.0", "1.0", "str-2", "str-1", "true", "0", "negative", "huge", "list", "object"],
)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_any_n_but_one_is_refused_under_a_judge(
    make_luthien: LuthienFactory, fake: FakeProvider, choices: Any, stream: bool
) -> None:
    server = serve(make_luthien, fake, "tool_call_judge")

    with chat_client(server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER, stream=stream, extra_body={"n": choices})

    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_request"
    assert fake.requests == []


@pytest.mark.parametrize("body", [{}, {"n": 1}, {"n": None}], ids=["absent", "one", "null"])
def test_one_choice_is_served_under_a_judge(
    make_luthien: LuthienFactory, fake: FakeProvider, body: dict[str, Any]
) -> None:
    server = serve(make_luthien, fake, "tool_call_judge")

    with chat_client(server) as client:
        completion = client.chat.completions.create(model=MODEL, messages=USER, extra_body=body)

    assert completion.choices[0].message.content
    [received] = fake.requests
    assert {key: received.json()[key] for key in body} == body


def test_n_is_forwarded_when_no_policy_inspects_responses(fake: FakeProvider, luthien: LuthienServer) -> None:
    with chat_client(luthien) as client:
        client.chat.completions.create(model=MODEL, messages=USER, extra_body={"n": 2.0})

    [received] = fake.requests
    assert received.json()["n"] == 2.0


def test_other_choices_an_upstream_sends_anyway_never_reach_the_client(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    # Choice 1 (and a second entry for choice 0, which a client merges into it) carry a tool call
    # the judge never sees: they are cut, and the client gets choice 0 as judged.
    rm = {"index": 0, "delta": call_start(0, "call_rm", "Bash"), "finish_reason": None}
    rm_args = {"index": 0, "delta": call_args(0, '{"command": "rm -rf /"}'), "finish_reason": None}
    frames = [
        chunk({"role": "assistant", "content": "Listing."}),
        chunk({}, choices=[{"index": 1, "delta": {"role": "assistant", "content": "Wiping."}}]),
        chunk({}, choices=[{**rm, "index": 1}]),
        chunk({}, choices=[{**rm_args, "index": 1}]),
        chunk({}, choices=[{"index": 0, "delta": {"content": " Done."}}, rm]),
        chunk({}, choices=[{"index": 0, "delta": {}}, rm_args]),
        chunk({}, "stop"),
        chunk({}, choices=[{"index": 1, "delta": {}, "finish_reason": "tool_calls"}]),
        DONE,
    ]
    fake.enqueue(StreamReply(frames))
    server = serve(make_luthien, fake, "tool_call_judge")

    completion = stream_chat(server)

    [choice] = completion.choices
    assert choice.message.content == "Listing. Done."
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"


def test_other_choices_in_a_whole_body_never_reach_the_client(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    body = chat_completion("Listing.")
    rm = chat_completion("", tool_calls=[ToolCall("call_rm", "Bash", {"command": "rm -rf /"})])
    body["choices"].append({**rm["choices"][0], "index": 1})
    fake.enqueue(JSONReply(body))
    server = serve(make_luthien, fake, "tool_call_judge")

    with chat_client(server) as client:
        completion = client.chat.completions.create(model=MODEL, messages=USER)

    [choice] = completion.choices
    assert choice.message.content == "Listing."
    assert choice.message.tool_calls is None


@pytest.mark.parametrize("object_type", [None, "chat.completion.chunk.v2"], ids=["no-object", "odd-object"])
def test_a_chunk_with_an_odd_object_is_still_judged(
    make_luthien: LuthienFactory, fake: FakeProvider, object_type: str | None
) -> None:
    # Clients read `choices` whatever `object` says, so the tool call in such chunks is judged too.
    frames = [
        chunk({"role": "assistant", "content": "Cleaning."}),
        chunk(call_start(0, "call_rm", "Bash"), object_type=object_type),
        chunk(call_args(0, '{"command": "rm -rf /"}'), object_type=object_type),
        chunk({}, "tool_calls"),
        DONE,
    ]
    fake.enqueue(StreamReply(frames))
    verdict = json.dumps({"probability": 0.99, "explanation": "Deletes everything."})
    fake.enqueue(JSONReply(anthropic_message(verdict, model=JUDGE_MODEL)))
    server = serve(make_luthien, fake, "tool_call_judge")

    completion = stream_chat(server)

    [choice] = completion.choices
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert judged_arguments(server) == [{"command": "rm -rf /"}]


def test_legacy_functions_are_refused_under_a_judge(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = serve(make_luthien, fake, "tool_call_judge")
    functions = [{"name": "shell", "parameters": {"type": "object"}}]

    with chat_client(server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER, extra_body={"functions": functions})

    assert caught.value.status_code == 400
    assert fake.requests == []


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_a_legacy_function_call_never_reaches_the_client_unread(
    make_luthien: LuthienFactory, fake: FakeProvider, stream: bool
) -> None:
    # A legacy `function_call` is not a tool call a policy reads: it is cut, never sent unjudged.
    call = {"name": "shell", "arguments": '{"command": "rm -rf /"}'}
    if stream:
        frames = [
            chunk({"role": "assistant", "content": "Wiping."}),
            chunk({"function_call": {"name": "shell", "arguments": ""}}),
            chunk({"function_call": {"arguments": call["arguments"]}}),
            chunk({}, "function_call"),
            DONE,
        ]
        fake.enqueue(StreamReply(frames))
    else:
        body = chat_completion("Wiping.", finish_reason="function_call")
        body["choices"][0]["message"]["function_call"] = call
        fake.enqueue(JSONReply(body))
    server = serve(make_luthien, fake, "tool_call_judge")

    if stream:
        message = stream_chat(server).choices[0].message
    else:
        with chat_client(server) as client:
            message = client.chat.completions.create(model=MODEL, messages=USER).choices[0].message

    assert message.content == "Wiping."
    assert message.function_call is None
    assert message.tool_calls is None


# -- 3. interleaved tool-call fragments are assembled by index ------------------------------------------

INTERLEAVED = [
    chunk({"role": "assistant", "content": None}),
    chunk(call_start(0, "call_a", "Bash")),
    chunk(call_start(1, "call_b", "Read")),
    chunk(call_args(0, '{"comm')),
    chunk(call_args(1, '{"pa')),
    chunk(call_args(0, 'and": "ls"}')),
    chunk(call_args(1, 'th": "x"}')),
    chunk({}, "tool_calls"),
    DONE,
]


@EVERY_POLICY
def test_interleaved_tool_call_fragments_arrive_whole(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    fake.enqueue(StreamReply(INTERLEAVED))
    if policy.judges:
        allow(fake, 2)
    server = serve(make_luthien, fake, policy.name)

    completion = stream_chat(server)

    [choice] = completion.choices
    calls = choice.message.tool_calls or []
    assert [(call.id, call.function.name, json.loads(call.function.arguments)) for call in calls] == [
        ("call_a", "Bash", {"command": "ls"}),
        ("call_b", "Read", {"path": "x"}),
    ]
    assert choice.finish_reason == "tool_calls"
    if policy.judges:
        assert sorted(judged_arguments(server), key=str) == [{"command": "ls"}, {"path": "x"}]


# -- 5. the model's text around a tool call is one string -------------------------------------------


@EVERY_POLICY
def test_text_after_a_tool_call_is_not_changed(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    # The secret is split by the tool call: a policy redacting it sees the text as one string too.
    frames = [
        chunk({"role": "assistant", "content": "The password is hun"}),
        chunk(call_start(0, "call_ls", "Bash")),
        chunk(call_args(0, '{"command": "ls"}')),
        chunk({"content": "ter2, a trailing secret."}),
        chunk({}, "tool_calls"),
        DONE,
    ]
    fake.enqueue(StreamReply(frames))
    if policy.judges:
        allow(fake, 1)
    server = serve(make_luthien, fake, policy.name)

    completion = stream_chat(server)

    [choice] = completion.choices
    assert choice.message.content == policy.text("The password is hunter2, a trailing secret.")
    assert [call.id for call in choice.message.tool_calls or []] == ["call_ls"]


# -- 7. a stream cut after its finish chunk is incomplete under every policy ----------------------------


@EVERY_POLICY
@pytest.mark.parametrize("cut", [False, True], ids=["closed", "cut"])
def test_a_stream_without_done_ends_with_the_incomplete_error(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped, cut: bool
) -> None:
    frames = chat_stream("Nearly done", include_usage=False, done=False)
    frames[-1] = chunk({"content": "!"}, "stop")  # the finish chunk carries the last text
    fake.enqueue(StreamReply(frames, cut=cut))
    server = serve(make_luthien, fake, policy.name)

    with pytest.raises(openai.APIError) as caught:
        stream_chat(server)

    assert caught.value.code == "upstream_stream_error"


# -- 4. Responses annotations survive a policy that changes text -------------------------------------

ANNOTATION = {
    "type": "url_citation",
    "start_index": 8,
    "end_index": 12,
    "url": "https://example.com/docs",
    "title": "The docs",
}


def annotated_responses_stream(text: str) -> list[bytes]:
    """A Responses stream whose text part gets one annotation, as web-search answers do."""
    events: list[dict[str, Any]] = []
    for frame in responses_stream(text, text_chunks=3):
        [parsed] = SSEParser().feed(frame)
        event = orjson.loads(parsed.data or "null")
        kind = event["type"]
        if kind == "response.output_text.done":
            at = {key: event[key] for key in ("item_id", "output_index", "content_index")}
            added = {"type": "response.output_text.annotation.added", **at, "annotation_index": 0}
            events.append({**added, "annotation": ANNOTATION})
        elif kind == "response.content_part.done":
            event["part"]["annotations"] = [ANNOTATION]
        elif kind == "response.output_item.done":
            event["item"]["content"][0]["annotations"] = [ANNOTATION]
        elif kind == "response.completed":
            event["response"]["output"][0]["content"][0]["annotations"] = [ANNOTATION]
        events.append(event)
    return [sse_frame(event["type"], {**event, "sequence_number": n}) for n, event in enumerate(events)]


@EVERY_POLICY
def test_responses_annotations_reach_the_final_objects(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    fake.enqueue(StreamReply(annotated_responses_stream("See the docs for hunter2.")))
    server = serve(make_luthien, fake, policy.name)
    finals: dict[str, list[Any]] = {}

    with chat_client(server) as client, client.responses.stream(model=MODEL, input="Docs?") as stream:
        for event in stream:
            if event.type == "response.content_part.done":
                finals["part"] = [a.to_dict() for a in getattr(event.part, "annotations", [])]
            elif event.type == "response.output_item.done" and event.item.type == "message":
                finals["item"] = [a.to_dict() for a in getattr(event.item.content[0], "annotations", [])]
        response = stream.get_final_response()

    [message] = response.output
    assert message.type == "message"
    [part] = message.content
    assert part.type == "output_text"
    assert part.text == policy.text("See the docs for hunter2.")
    assert [annotation.to_dict() for annotation in part.annotations] == [ANNOTATION]
    assert finals == {"part": [ANNOTATION], "item": [ANNOTATION]}


# -- 6. header values cross as the bytes that arrived ---------------------------------------------------

NOTES = {"x-upstream-note": "\U0001f600", "x-note": "caf\u00e9"}


@EVERY_POLICY
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_upstream_header_values_that_are_not_latin1_pass_as_received(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped, stream: bool
) -> None:
    reply = chat_stream("Hi.") if stream else chat_completion("Hi.")
    fake.enqueue(StreamReply(reply, headers=NOTES) if stream else JSONReply(reply, headers=NOTES))
    server = serve(make_luthien, fake, policy.name)

    with chat_client(server) as client:
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=USER, stream=stream)
        raw.parse()

    assert raw.status_code == 200
    received = dict(raw.headers.raw)
    assert {name: received[name.encode()] for name in NOTES} == {
        name: value.encode() for name, value in NOTES.items()
    }


@pytest.mark.parametrize("policy", ["noop", "all_caps"])
def test_upstream_header_bytes_that_are_not_utf8_pass_as_received(
    make_luthien: LuthienFactory, fake: FakeProvider, threaded_upstreams: list[ThreadedUpstream], policy: str
) -> None:
    # http.server writes header values as latin-1: the value's bytes are `caf\xe9`, not UTF-8.
    body = orjson.dumps(chat_completion("Hi."))
    upstream = ThreadedUpstream(lambda path, request: ("application/json", [body]), {"x-note": "caf\u00e9"})
    threaded_upstreams.append(upstream)
    server = make_luthien(shipped_config(fake), test_policy=policy, openai_base_url=f"{upstream.base_url}/v1")

    with chat_client(server) as client:
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=USER)

    assert raw.status_code == 200
    assert dict(raw.headers.raw)[b"x-note"] == b"caf\xe9"


def test_client_header_values_go_upstream_as_sent(fake: FakeProvider, luthien: LuthienServer) -> None:
    # The SDKs send ASCII headers only; a raw client sends the UTF-8 bytes of `café`.
    body = {"model": MODEL, "messages": USER}
    headers = {"x-note": "caf\u00e9".encode()}
    response = httpx.post(f"{luthien.base_url}/v1/chat/completions", json=body, headers=headers)

    assert response.status_code == 200

    [received] = fake.requests
    assert received.headers["x-note"] == "caf\u00e9"


# -- 8. CR-only line endings, and frames that end at a read boundary --------------------------------


def cr_only(frames: list[bytes]) -> list[bytes]:
    return [frame.replace(b"\n", b"\r") for frame in frames]


@pytest.mark.parametrize("stream", [True, False], ids=["whole-frames", "one-write"])
def test_cr_only_line_endings_pass_byte_for_byte(
    fake: FakeProvider, luthien: LuthienServer, stream: bool
) -> None:
    frames = cr_only(
        anthropic_stream("Carriage returns only.", tool_calls=[ToolCall("toolu_1", "Read", {"p": 1})])
    )
    fake.enqueue(StreamReply(frames if stream else [b"".join(frames)]))
    body = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "sk-test"}

    with httpx.stream(
        "POST", f"{luthien.base_url}/v1/messages", json={**body, "stream": True}, headers=headers
    ) as r:
        received = b"".join(r.iter_raw())

    assert received == b"".join(frames)


@EVERY_POLICY
def test_cr_only_streams_parse_under_every_policy(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: Shipped
) -> None:
    fake.enqueue(StreamReply(cr_only(anthropic_stream("Carriage returns only."))))
    server = serve(make_luthien, fake, policy.name)

    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-test", max_retries=0)
    with (
        client,
        client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        message = stream.get_final_message()

    assert [block.type for block in message.content] == ["text"]
    assert getattr(message.content[0], "text", None) == policy.text("Carriage returns only.")


@pytest.mark.parametrize("ending", [b"\r\r", b"\r\n\r"], ids=["cr", "crlf-cut-before-last-lf"])
def test_a_frame_ending_at_a_read_boundary_is_forwarded_at_once(
    make_luthien: LuthienFactory, threaded_upstreams: list[ThreadedUpstream], ending: bytes
) -> None:
    # The upstream sends a frame ending in a CR, then waits until the client has that frame: a
    # proxy that held the frame for the byte after the CR would never let it through.
    frames = chat_stream("First, then the rest.", text_chunks=2)
    first = frames[1].rstrip(b"\n") + ending  # the first content chunk
    rest = [b"\n" if ending.endswith(b"\r\n\r") else b"", *frames[2:]]
    client_has_it = threading.Event()
    upstream = ThreadedUpstream(
        lambda path, body: ("text/event-stream", [frames[0], first, client_has_it, *rest])
    )
    threaded_upstreams.append(upstream)
    server = make_luthien(openai_base_url=f"{upstream.base_url}/v1")
    received = b""

    with httpx.stream(
        "POST",
        f"{server.base_url}/v1/chat/completions",
        json={"model": MODEL, "messages": USER, "stream": True},
    ) as response:
        for piece in response.iter_raw():
            received += piece
            if received.endswith(first):
                client_has_it.set()

    assert upstream.gates == [True]
    assert received == b"".join([frames[0], first, *rest])


# -- 9. upstream order of pings among held tool calls ------------------------------------------------


@pytest.mark.parametrize("policy", ["tool_call_judge", "block_commands"])
def test_pings_among_allowed_tool_calls_keep_their_place(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: str
) -> None:
    calls = [ToolCall("toolu_1", "Bash", {"command": "ls"}), ToolCall("toolu_2", "Read", {"file": "a"})]
    frames = anthropic_stream("Checking.", tool_calls=calls, ping=False)
    ping = sse_frame("ping", {"type": "ping"})
    second_tool = next(i for i, f in enumerate(frames) if b'"toolu_2"' in f)
    frames = [*frames[:second_tool], ping, *frames[second_tool:-2], ping, *frames[-2:]]
    fake.enqueue(StreamReply(frames))
    if policy == "tool_call_judge":
        allow(fake, 2)
    server = serve(make_luthien, fake, policy)
    body = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}

    received = httpx.post(
        f"{server.base_url}/v1/messages",
        json={**body, "stream": True},
        headers={"anthropic-version": "2023-06-01", "x-api-key": "sk-test"},
    ).content

    assert received == b"".join(frames)


# -- 10. JSON that clients read but Luthien cannot is never forwarded unread --------------------------

LONE_SURROGATE = "\\ud800"
"""A JSON escape for half a surrogate pair: Python's json and JSON.parse accept it, orjson does not."""


def test_an_unreadable_tool_call_delta_ends_the_stream_with_an_error(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    # The planted piece would reach the client's SDK (which reads it) without the judge seeing it.
    frames = anthropic_stream(
        "Listing.", tool_calls=[ToolCall("toolu_1", "Bash", '{"command": "ls')], ping=False
    )
    planted = (
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":1,'
        '"delta":{"type":"input_json_delta","partial_json":" && rm -rf / ' + LONE_SURROGATE + '\\"}"}}\n\n'
    ).encode()
    stop = max(i for i, frame in enumerate(frames) if frame.startswith(b"event: content_block_stop"))
    fake.enqueue(StreamReply([*frames[:stop], planted, *frames[stop:]]))
    server = serve(make_luthien, fake, "tool_call_judge")
    seen: list[str] = []

    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-test", max_retries=0)
    with (
        client,
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        seen.extend(event.type for event in stream)

    error: Any = caught.value.body
    assert error["error"]["type"] == "api_error"
    assert "text" in seen  # the text streamed before
    assert not any(event == "input_json" for event in seen)
    assert [request.path for request in fake.requests] == ["/v1/messages"]  # never judged, never sent


def test_an_unreadable_chat_chunk_ends_the_stream_with_an_error(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    planted = chunk(call_args(0, "x")).replace(b'"x"', ('" && rm -rf / ' + LONE_SURROGATE + '"').encode())
    frames = [
        chunk({"role": "assistant", "content": None}),
        chunk(call_start(0, "call_ls", "Bash")),
        chunk(call_args(0, '{"command": "ls')),
        planted,
        chunk(call_args(0, '"}')),
        chunk({}, "tool_calls"),
        DONE,
    ]
    fake.enqueue(StreamReply(frames))
    server = serve(make_luthien, fake, "tool_call_judge")

    with pytest.raises(openai.APIError) as caught:
        stream_chat(server)

    assert caught.value.code == "upstream_stream_error"
    assert [request.path for request in fake.requests] == ["/v1/chat/completions"]


@pytest.mark.parametrize("policy", ["tool_call_judge", "all_caps"])
def test_an_unreadable_body_is_refused(make_luthien: LuthienFactory, fake: FakeProvider, policy: str) -> None:
    body = orjson.dumps(
        chat_completion("", tool_calls=[ToolCall("call_rm", "Bash", {"command": "rm -rf /"})])
    )
    body = body.replace(b"rm -rf /", ("rm -rf / " + LONE_SURROGATE).encode())
    fake.enqueue(RawReply(body, content_type="application/json"))
    server = serve(make_luthien, fake, policy)

    with chat_client(server) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER)

    assert caught.value.status_code == 502
    assert [request.path for request in fake.requests] == ["/v1/chat/completions"]


def test_unreadable_json_passes_when_no_policy_reads_responses(
    fake: FakeProvider, luthien: LuthienServer
) -> None:
    body = orjson.dumps(chat_completion("Half an emoji: X")).replace(b"X", LONE_SURROGATE.encode())
    fake.enqueue(RawReply(body, content_type="application/json"))

    response = httpx.post(f"{luthien.base_url}/v1/chat/completions", json={"model": MODEL, "messages": USER})

    assert response.status_code == 200
    assert response.content == body


# -- same family: Anthropic events of a block that is not open ---------------------------------------


def anthropic_final(server: LuthienServer) -> Any:
    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-test", max_retries=0)
    with (
        client,
        client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        return stream.get_final_message()


@pytest.mark.parametrize("policy", ["tool_call_judge", "block_commands", "all_caps"])
def test_a_delta_after_a_tool_call_stopped_cannot_extend_it(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: str
) -> None:
    # The SDK appends a late `input_json_delta` to the stopped block's input: the call the client
    # would run must be the one the policy checked.
    frames = anthropic_stream(
        "Listing.", tool_calls=[ToolCall("toolu_1", "Bash", '{"command": "ls')], ping=False
    )
    stop = max(i for i, frame in enumerate(frames) if frame.startswith(b"event: content_block_stop"))
    late = {"type": "input_json_delta", "partial_json": ' && rm -rf /"}'}
    planted = sse_frame("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": late})
    early = sse_frame("content_block_delta", {"type": "content_block_delta", "index": 7, "delta": late})
    fake.enqueue(StreamReply([frames[0], early, *frames[1 : stop + 1], planted, *frames[stop + 1 :]]))
    if policy == "tool_call_judge":
        allow(fake, 1)
    server = serve(make_luthien, fake, policy)

    message = anthropic_final(server)

    [call] = [block for block in message.content if block.type == "tool_use"]
    assert "rm -rf" not in json.dumps(call.input)
    if policy == "tool_call_judge":
        [decision] = server.app.state.gateway.activity.events(type="judge.decision")
        assert decision.data["arguments"] == '{"command": "ls'


# -- same family: Responses `*.done` events and the final `output` must say what was streamed ----------


def rewritten_responses_stream(rewrite: Callable[[dict[str, Any]], None]) -> list[bytes]:
    """A Responses stream with one `shell` call streaming `ls`, passed event by event to `rewrite`."""
    events: list[dict[str, Any]] = []
    for frame in responses_stream("", tool_calls=[ToolCall("call_1", "shell", {"command": "ls"})]):
        [parsed] = SSEParser().feed(frame)
        event = orjson.loads(parsed.data or "null")
        rewrite(event)
        events.append(event)
    return [sse_frame(event["type"], event) for event in events]


def _claim_rm(event: dict[str, Any]) -> None:
    """Every value but the deltas claims `rm -rf /`: the deltas are what a policy judges."""
    if event["type"] != "response.function_call_arguments.delta":
        text = orjson.dumps(event).replace(b'{\\"command\\":\\"ls\\"}', b'{\\"command\\":\\"rm -rf /\\"}')
        event.clear()
        event.update(orjson.loads(text))


def _extra_call(event: dict[str, Any]) -> None:
    """The final `output` lists a call that was never streamed."""
    if event["type"] == "response.completed":
        extra = {"id": "fc_x", "type": "function_call", "status": "completed", "call_id": "call_rm"}
        event["response"]["output"].append({**extra, "name": "shell", "arguments": '{"command":"rm -rf /"}'})


@pytest.mark.parametrize("rewrite", [_claim_rm, _extra_call], ids=["done-values", "extra-item"])
@pytest.mark.parametrize("policy", ["tool_call_judge", "block_commands", "all_caps"])
def test_responses_final_objects_say_what_was_streamed(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: str, rewrite: Callable[[dict[str, Any]], None]
) -> None:
    fake.enqueue(StreamReply(rewritten_responses_stream(rewrite)))
    if policy == "tool_call_judge":
        allow(fake, 1)
    server = serve(make_luthien, fake, policy)
    done: list[Any] = []

    with chat_client(server) as client, client.responses.stream(model=MODEL, input="List.") as stream:
        for event in stream:
            if event.type in ("response.function_call_arguments.done", "response.output_item.done"):
                done.append(getattr(event, "arguments", None) or getattr(event.item, "arguments", None))
        response = stream.get_final_response()

    assert [(item.type, getattr(item, "arguments", None)) for item in response.output] == [
        ("function_call", '{"command":"ls"}')
    ]
    assert done == ['{"command":"ls"}', '{"command":"ls"}']
    if policy == "tool_call_judge":
        assert judged_arguments(server) == [{"command": "ls"}]


def test_responses_content_for_an_item_already_done_is_dropped(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    # After the call's `output_item.done`, a late arguments delta (and a final `output` that counts it)
    # would extend the call the client runs past what the judge saw.
    frames = rewritten_responses_stream(lambda event: None)
    done = next(i for i, frame in enumerate(frames) if frame.startswith(b"event: response.output_item.done"))
    [parsed] = SSEParser().feed(frames[done])
    item_done = orjson.loads(parsed.data or "null")
    late = {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": " && rm -rf /"}
    late_frame = sse_frame(late["type"], {**late, "item_id": item_done["item"]["id"], "sequence_number": 99})
    final = frames[-1].replace(b'ls\\"}', b'ls && rm -rf /\\"}')
    fake.enqueue(StreamReply([*frames[: done + 1], late_frame, *frames[done + 1 : -1], final]))
    allow(fake, 1)
    server = serve(make_luthien, fake, "tool_call_judge")
    deltas: list[str] = []

    with chat_client(server) as client, client.responses.stream(model=MODEL, input="List.") as stream:
        for event in stream:
            if event.type == "response.function_call_arguments.delta":
                deltas.append(event.delta)
        response = stream.get_final_response()

    assert "".join(deltas) == '{"command":"ls"}'
    assert [getattr(item, "arguments", None) for item in response.output] == ['{"command":"ls"}']
    assert judged_arguments(server) == [{"command": "ls"}]


@pytest.mark.parametrize("policy", ["tool_call_judge", "block_commands", "all_caps"])
def test_chat_content_after_the_finish_chunk_never_reaches_the_client(
    make_luthien: LuthienFactory, fake: FakeProvider, policy: str
) -> None:
    # Between the finish chunk and `[DONE]` the message is over, but a client still adds what comes.
    frames = [
        chunk({"role": "assistant", "content": "Listing."}),
        chunk(call_start(0, "call_ls", "Bash")),
        chunk(call_args(0, '{"command": "ls')),
        chunk({}, "tool_calls"),
        chunk(call_args(0, ' && rm -rf /"}')),
        chunk({"content": " Wiped."}),
        DONE,
    ]
    fake.enqueue(StreamReply(frames))
    if policy == "tool_call_judge":
        allow(fake, 1)
    server = serve(make_luthien, fake, policy)

    completion = stream_chat(server)

    [choice] = completion.choices
    assert (choice.message.content or "").lower() == "listing."
    assert [call.function.arguments for call in choice.message.tool_calls or []] == ['{"command": "ls']
