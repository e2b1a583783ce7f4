"""Shared fixtures: the fake provider, and real Luthien servers pointed at it."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from luthien.config import LuthienConfig
from luthien.settings import Settings
from tests.fake_provider import FakeProvider
from tests.luthien_server import LuthienServer
from tests.policy_option import add_policy_option

# Environment a developer may have set that would change what the tests see.
_ISOLATED_PREFIXES = ("LUTHIEN_",)
_ISOLATED_NAMES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_policy_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) or name in _ISOLATED_NAMES:
            del os.environ[name]


@pytest.fixture(scope="session")
def _fake_session() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(_fake_session: FakeProvider) -> Iterator[FakeProvider]:
    """The fake provider, emptied before and after each test."""
    _fake_session.reset()
    yield _fake_session
    _fake_session.reset()


@cache
def _records_dir() -> Path:
    """One temporary folder for the records databases of the test servers of this run."""
    return Path(tempfile.mkdtemp(prefix="luthien-records-"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _records_dir.cache_info().currsize:
        shutil.rmtree(_records_dir(), ignore_errors=True)


def settings_for(fake: FakeProvider, **overrides: Any) -> Settings:
    """Settings whose built-in upstreams both point at `fake`."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{_records_dir() / uuid.uuid4().hex}.db",
        "anthropic_base_url": fake.base_url,
        "openai_base_url": f"{fake.base_url}/v1",
        **overrides,
    }
    return Settings.model_validate(values)


LuthienFactory = Callable[..., LuthienServer]


@pytest.fixture
def make_luthien(fake: FakeProvider) -> Iterator[LuthienFactory]:
    """Start a Luthien server with setting overrides and an optional config; stopped after the test.

    Usage: `server = make_luthien(api_key="k", config=LuthienConfig(...))`.
    """
    servers: list[LuthienServer] = []

    def start(config: LuthienConfig | None = None, **overrides: Any) -> LuthienServer:
        server = LuthienServer(settings_for(fake, **overrides), config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def _luthien_session(_fake_session: FakeProvider) -> Iterator[LuthienServer]:
    server = LuthienServer(settings_for(_fake_session)).start()
    yield server
    server.stop()


@pytest.fixture
def luthien(_luthien_session: LuthienServer, fake: FakeProvider) -> LuthienServer:
    """A Luthien server with default settings (passthrough auth, no policy) in front of `fake`."""
    return _luthien_session
