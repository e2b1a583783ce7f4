"""Properties of request translation over generated requests, for all six ordered API pairs.

- a valid request of API X, translated X→Y→X, keeps its meaning (`request_strategies.meaning`);
- every body the translation writes is accepted by the target's official SDK request type;
- a reasoning token reaches only the API whose provider made it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.translation.envelope import ENVELOPE_PREFIX, SealedToken, seal
from luthien.translation.request_model import Message, NormalizedRequest, ThinkingPart
from luthien.translation.requests import decode_request, encode_request, translate_request
from luthien.wire.apis import WireApi
from tests.unit.translation.request_strategies import (
    APIS,
    DEFAULT_MAX_TOKENS,
    PAIRS,
    meaning,
    requests,
    validate_with_sdk,
)

_EXAMPLES = 40


def _client_body(request: NormalizedRequest, api: WireApi) -> dict[str, object]:
    body = encode_request(request, api, default_max_tokens=DEFAULT_MAX_TOKENS)
    validate_with_sdk(body, api)
    return body


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda api: api.name)
@settings(max_examples=_EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_request_translated_there_and_back_keeps_its_meaning(
    source: WireApi, target: WireApi, data: st.DataObject
) -> None:
    with_stop = OPENAI_RESPONSES not in (source, target)
    body = _client_body(data.draw(requests(with_stop=with_stop)), source)
    original = decode_request(body, source)

    there = translate_request(body, source, target, default_max_tokens=DEFAULT_MAX_TOKENS)
    validate_with_sdk(there, target)
    back = translate_request(there, target, source, default_max_tokens=DEFAULT_MAX_TOKENS)
    validate_with_sdk(back, source)
    returned = decode_request(back, source)

    if original.max_tokens is None:
        # A target that requires a limit got the default; the client had none to keep.
        returned = replace(returned, max_tokens=None)
    through_anthropic = ANTHROPIC_MESSAGES in (source, target)
    assert meaning(returned, through_anthropic=through_anthropic) == meaning(
        original, through_anthropic=through_anthropic
    )


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
@settings(max_examples=_EXAMPLES, deadline=None)
@given(data=st.data())
def test_every_encoded_request_is_accepted_by_the_official_sdk(api: WireApi, data: st.DataObject) -> None:
    request = data.draw(requests(with_stop=api is not OPENAI_RESPONSES))
    validate_with_sdk(encode_request(request, api, default_max_tokens=DEFAULT_MAX_TOKENS), api)


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.name)
@settings(max_examples=_EXAMPLES, deadline=None)
@given(data=st.data())
def test_decoding_what_an_api_encoded_keeps_the_meaning(api: WireApi, data: st.DataObject) -> None:
    request = data.draw(requests(with_stop=api is not OPENAI_RESPONSES))
    decoded = decode_request(encode_request(request, api, default_max_tokens=DEFAULT_MAX_TOKENS), api)
    if request.max_tokens is None:
        decoded = replace(decoded, max_tokens=None)
    through_anthropic = api is ANTHROPIC_MESSAGES
    assert meaning(decoded, through_anthropic=through_anthropic) == meaning(
        request, through_anthropic=through_anthropic
    )


_TOKEN_APIS = st.sampled_from([ANTHROPIC_MESSAGES.name, OPENAI_RESPONSES.name])
"""The APIs whose providers make reasoning tokens (Chat Completions has none)."""


@st.composite
def _with_reasoning_tokens(draw: st.DrawFn) -> NormalizedRequest:
    """A request whose assistant turns open with reasoning made by any API, sealed or bare."""
    request = draw(requests(with_stop=False))
    messages: list[Message] = []
    for message in request.messages:
        if message.role == "assistant":
            maker = draw(_TOKEN_APIS)
            token = SealedToken(maker, f"tok-{maker}-{len(messages)}")
            message = Message("assistant", (ThinkingPart(draw(st.text(max_size=5)), token), *message.parts))
        messages.append(message)
    return replace(request, messages=tuple(messages))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return []


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda api: api.name)
@settings(max_examples=_EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_reasoning_token_reaches_only_the_api_that_made_it(
    source: WireApi, target: WireApi, data: st.DataObject
) -> None:
    request = data.draw(_with_reasoning_tokens())
    # The client holds tokens of other APIs sealed, its own API's bare: as translated responses gave them.
    sealed = replace(
        request,
        messages=tuple(
            Message(
                message.role,
                tuple(
                    ThinkingPart(part.text, SealedToken(source.name, seal(part.token.api, part.token.token)))
                    if isinstance(part, ThinkingPart)
                    and part.token is not None
                    and part.token.api != source.name
                    else part
                    for part in message.parts
                ),
            )
            for message in request.messages
        ),
    )
    body = encode_request(sealed, source, default_max_tokens=DEFAULT_MAX_TOKENS)
    translated = translate_request(body, source, target, default_max_tokens=DEFAULT_MAX_TOKENS)
    validate_with_sdk(translated, target)
    sent = {text for text in _strings(translated) if text.startswith("tok-")}
    # A Chat client has nowhere to keep reasoning: it sends none back.
    made_by_target = (
        {
            part.token.token
            for message in request.messages
            for part in message.parts
            if isinstance(part, ThinkingPart) and part.token is not None and part.token.api == target.name
        }
        if source is not OPENAI_CHAT
        else set[str]()
    )
    assert sent == made_by_target
    assert not any(text.startswith(ENVELOPE_PREFIX) for text in _strings(translated))
