"""Shared test setup: the environment is isolated; fixtures come from the test kit's pytest plugin.

`luthien.testing.plugin` (loaded by its `pytest11` entry point) provides `fake`, `make_luthien`,
`luthien` and the `--policy` option; `LuthienFactory` is re-exported here for type annotations.
`serve_processes` collects the `luthien serve` processes a test starts (tests/support/serve_process.py);
`claude` and `oai` are the official SDKs calling the fake provider.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import anthropic
import openai
import pytest

from luthien.testing.plugin import LuthienFactory as LuthienFactory
from tests.fake_provider import FakeProvider

# Also loaded by its entry point; named here so an install that predates the entry point still works.
pytest_plugins = ["luthien.testing.plugin"]

# The official SDKs' own suites, vendored: run as subprocesses by tests/e2e/test_sdk_suites.py only.
collect_ignore = ["sdk_suites"]

# Environment a developer may have set that would change what the tests see.
_ISOLATED_PREFIXES = ("LUTHIEN_",)
_ISOLATED_NAMES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")
SDK_KEY = "sk-test-key"


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) or name in _ISOLATED_NAMES:
            del os.environ[name]


@pytest.fixture
def serve_processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Started `luthien serve` processes; any still running at the end are killed."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()


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
