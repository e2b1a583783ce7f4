"""`luthien approvals` output and errors that a live server rarely produces."""

from __future__ import annotations

import io
import time

import pytest

from luthien.approvals.command import ARGUMENTS_PREVIEW_CHARS, error_message, print_list
from luthien.cli import main
from tests.fake_provider import FakeProvider, RawReply


def test_the_listing_cuts_long_arguments_and_shows_the_verdict() -> None:
    out = io.StringIO()
    item = {
        "id": "apr_1",
        "transaction_id": "tx",
        "session_id": None,
        "tool_call": {"id": "c", "name": "Bash", "arguments": "y" * (ARGUMENTS_PREVIEW_CHARS * 2)},
        "verdict": {"probability": 0.4, "explanation": "unsure"},
        "expires_at": time.time() + 100,
    }
    print_list([item], out)
    text = out.getvalue()
    assert "y" * (ARGUMENTS_PREVIEW_CHARS + 1) not in text
    assert "judge 0.40: unsure" in text
    assert "session -" in text


def test_error_messages_come_from_the_error_object_or_the_body() -> None:
    assert error_message({"error": {"message": "nope"}}) == "nope"
    assert error_message(["odd"]) == "['odd']"


def test_a_non_json_refusal_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeProvider()
    fake.start()
    try:
        fake.enqueue(RawReply(b"<html>bad gateway</html>", status=502))
        # The fake answers its queued reply on a model-call path: point the CLI's base there.
        code = main(["approvals", "approve", "apr_1", "--url", f"{fake.base_url}/v1/messages?"])
    finally:
        fake.stop()
    assert code == 1
    assert "502: <html>bad gateway</html>" in capsys.readouterr().err
