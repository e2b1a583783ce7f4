"""The hook the plugin's matrix asks for the text a policy should produce (see docs/testing.md)."""

from __future__ import annotations

import pytest


@pytest.hookspec(firstresult=True)
def pytest_luthien_expected_text(policy: str, text: str) -> str | None:  # pyright: ignore[reportReturnType]
    """The text the client should receive when `policy` serves a call whose upstream text is `text`.

    Implement it in a `conftest.py` for a policy that changes text; return None for policies it
    does not know. Without an answer the matrix expects the text unchanged.

    Args:
        policy: the configured name of the policy under test (for `module:Class`, the class name).
        text: the text the fake upstream sends.
    """
