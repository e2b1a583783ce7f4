"""The reasoning-token envelope: sealed tokens go back only to the API that made them."""

from __future__ import annotations

import pytest

from luthien.translation.envelope import EnvelopeError, SealedToken, open_envelope, seal, token_for


def test_a_sealed_token_opens_to_its_api_and_exact_token() -> None:
    sealed = seal("anthropic_messages", "EqQBCkYIBxgCKkA.x/y+z==")
    assert sealed == "luthien.v1.anthropic_messages.EqQBCkYIBxgCKkA.x/y+z=="
    assert open_envelope(sealed) == SealedToken("anthropic_messages", "EqQBCkYIBxgCKkA.x/y+z==")


def test_a_token_goes_back_only_to_the_api_that_made_it() -> None:
    sealed = seal("anthropic_messages", "sig")
    assert token_for(sealed, "anthropic_messages") == "sig"
    assert token_for(sealed, "openai_responses") is None


def test_a_providers_own_token_is_kept_as_is() -> None:
    assert open_envelope("gAAAAABnative") is None
    assert token_for("gAAAAABnative", "openai_responses") == "gAAAAABnative"


@pytest.mark.parametrize("value", ["luthien.v1.", "luthien.v1.anthropic_messages", "luthien.v1..sig"])
def test_a_malformed_envelope_is_not_opened(value: str) -> None:
    assert open_envelope(value) is None


@pytest.mark.parametrize("api", ["", "a.b"])
def test_an_ambiguous_api_name_is_refused(api: str) -> None:
    with pytest.raises(EnvelopeError):
        seal(api, "token")
