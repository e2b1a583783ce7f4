"""The three APIs through a real Luthien server, streaming and not, with the official SDKs."""

from __future__ import annotations

import anthropic
import httpx
import openai

from tests.fake_provider import FakeProvider, StreamReply, anthropic_stream
from tests.luthien_server import LuthienServer


def test_anthropic_stream_is_byte_identical(luthien: LuthienServer, fake: FakeProvider) -> None:
    frames = anthropic_stream("Hello there", thinking="hmm", text_chunks=4)
    fake.enqueue(StreamReply(frames))
    body = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [], "stream": True}
    with httpx.stream("POST", f"{luthien.base_url}/v1/messages?beta=true", json=body) as response:
        received = b"".join(response.iter_bytes())
    assert received == b"".join(frames)
    assert fake.requests[-1].query == "beta=true"

    fake.enqueue(StreamReply(frames))
    client = anthropic.Anthropic(base_url=luthien.base_url, api_key="client-key", max_retries=0)
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        message = stream.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text"]


def test_openai_chat_and_responses(luthien: LuthienServer, fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=f"{luthien.base_url}/v1", api_key="k", max_retries=0)
    completion = client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content
    with client.chat.completions.stream(
        model="gpt-5", messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content
    with client.responses.stream(model="gpt-5", input="hi") as rstream:
        response = rstream.get_final_response()
    assert response.output_text
