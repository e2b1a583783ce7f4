"""Fixtures shared by the end-to-end tests (the fake provider and servers are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.storage.conftest import PostgresDatabases
from tests.threaded_upstream import ThreadedUpstream


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
