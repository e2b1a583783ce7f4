"""Fixtures shared by the end-to-end tests (the fake provider and servers are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.threaded_upstream import ThreadedUpstream


@pytest.fixture
def threaded_upstreams() -> Iterator[list[ThreadedUpstream]]:
    """Threaded upstreams a test starts (append them); stopped after the test."""
    started: list[ThreadedUpstream] = []
    yield started
    for upstream in started:
        upstream.stop()
