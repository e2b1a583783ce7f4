"""Properties of request translation over generated requests, for all six ordered API pairs.

- a valid request of API X, translated X→Y→X, keeps its meaning (`request_strategies.meaning`);
- every body the translation writes is accepted by the target's official SDK request type.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luthien.translation.request_model import NormalizedRequest
from luthien.translation.requests import decode_request, encode_request, translate_request
from luthien.wire.apis import ANTHROPIC_MESSAGES, OPENAI_RESPONSES, WireApi
from tests.unit.translation.request_strategies import (
    APIS,
    DEFAULT_MAX_TOKENS,
    PAIRS,
    meaning,
    requests,
    validate_with_sdk,
)

_EXAMPLES = 60


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
