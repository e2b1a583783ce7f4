"""End-to-end test options: `--policy NAME` restricts the policy matrix to one policy."""

from __future__ import annotations

import pytest

from tests.policy_option import add_policy_option


def pytest_addoption(parser: pytest.Parser) -> None:
    add_policy_option(parser)
