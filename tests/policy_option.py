"""The `--policy NAME` pytest option: restricts the policy-matrix tests to one shipped policy.

The root `tests/conftest.py` registers it (pytest reads options before it loads the conftest files
of sub-folders), so `pytest --policy=all_caps` works from the repository root.
"""

from __future__ import annotations

import contextlib

import pytest

POLICY_OPTION = "--policy"


def add_policy_option(parser: pytest.Parser) -> None:
    """Register `--policy`; a second registration (root and e2e conftest both loaded) is a no-op."""
    with contextlib.suppress(ValueError):  # already registered
        parser.addoption(
            POLICY_OPTION,
            action="store",
            default=None,
            metavar="NAME",
            help="run the policy-matrix tests for this shipped policy only (e.g. all_caps)",
        )


def selected_policy(config: pytest.Config) -> str | None:
    """The policy named by `--policy`, or None for all of them."""
    value = config.getoption(POLICY_OPTION, default=None)
    return value if isinstance(value, str) and value else None


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register `--policy` when this module is loaded as a plugin."""
    add_policy_option(parser)
