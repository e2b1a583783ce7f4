"""Making calls through a Luthien server and reading them back from its admin API (shared by tests)."""

from __future__ import annotations

import time
from typing import Any

import httpx

GUARD_S = 30.0
"""How long to wait for a record to be stored; never reached when the code under test works."""
POLL_S = 0.02
CLAUDE_SESSION_HEADER = "x-claude-code-session-id"


def anthropic_call(
    base_url: str,
    prompt: str = "hi",
    *,
    session: str | None = None,
    stream: bool = False,
    model: str = "claude-test",
    messages: list[dict[str, Any]] | None = None,
) -> httpx.Response:
    """One `/v1/messages` call (read to the end), optionally in an agent session."""
    headers = {"x-api-key": "sk-client-key", "anthropic-version": "2023-06-01"}
    if session is not None:
        headers[CLAUDE_SESSION_HEADER] = session
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 100,
        "messages": messages or [{"role": "user", "content": prompt}],
        "stream": stream,
    }
    response = httpx.post(f"{base_url}/v1/messages", json=body, headers=headers, timeout=GUARD_S)
    response.read()
    return response


def transaction_id(response: httpx.Response) -> str:
    """The id Luthien gave the call."""
    return response.headers["x-luthien-transaction-id"]


def wait_for_record(base_url: str, transaction: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The stored record of a call, once the writer has stored it.

    Raises:
        AssertionError: it was not stored within `GUARD_S`.
    """
    deadline = time.monotonic() + GUARD_S
    while True:
        response = httpx.get(f"{base_url}/api/transactions/{transaction}", headers=headers or {})
        if response.status_code == 200:
            record: dict[str, Any] = response.json()
            return record
        assert response.status_code == 404, response.text
        assert time.monotonic() < deadline, f"transaction {transaction} was never stored"
        time.sleep(POLL_S)
