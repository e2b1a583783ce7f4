"""Fixtures shared by the end-to-end tests (the fake provider and servers are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.storage.conftest import PostgresDatabases
from tests.support.cli_agents import AgentFolders, agent_folders
from tests.support.records import SdksFactory, servers_with_sdks
from tests.support.threaded_upstream import ThreadedUpstream


@pytest.fixture
def threaded_upstreams() -> Iterator[list[ThreadedUpstream]]:
    """Threaded upstreams a test starts (append them); stopped after the test."""
    started: list[ThreadedUpstream] = []
    yield started
    for upstream in started:
        upstream.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database on the machine's server, dropped after the test."""
    databases = PostgresDatabases()
    yield databases.create()
    databases.drop_all()


@pytest.fixture(scope="module")
def _judge_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def judge(_judge_provider: FakeProvider) -> Iterator[FakeProvider]:
    """A second fake provider playing the judge model, emptied before and after each test."""
    _judge_provider.reset()
    yield _judge_provider
    _judge_provider.reset()


@pytest.fixture
def local() -> Iterator[FakeProvider]:
    """A fake provider serving only Chat Completions (404 elsewhere), like vLLM or Ollama."""
    provider = FakeProvider(chat_only=True)
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def folders(tmp_path: Path) -> AgentFolders:
    """The folders of a coding agent's turn: its workspace, its home, and one it must not touch."""
    return agent_folders(tmp_path)


@pytest.fixture
def sdks_for(make_luthien: LuthienFactory) -> Iterator[SdksFactory]:
    """Start a server with a config; return it and SDK clients pointed at it."""
    with servers_with_sdks(make_luthien) as start:
        yield start
