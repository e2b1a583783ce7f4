"""Fixtures of the unit tests: SDK clients of the fake provider (`fake`, from the test kit's plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.fake_provider import FakeProvider

SDK_KEY = "sk-unit-test-key"


@pytest.fixture
def oai(fake: FakeProvider) -> Iterator[openai.OpenAI]:
    """The OpenAI SDK, calling the fake provider (no retries)."""
    with openai.OpenAI(base_url=f"{fake.base_url}/v1", api_key=SDK_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def claude(fake: FakeProvider) -> Iterator[anthropic.Anthropic]:
    """The Anthropic SDK, calling the fake provider (no retries)."""
    with anthropic.Anthropic(base_url=fake.base_url, api_key=SDK_KEY, max_retries=0) as client:
        yield client
