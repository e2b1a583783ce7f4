"""The test kit from outside the repository.

The pytest plugin's matrix on a policy in a temporary directory (in a pytest subprocess), and the
fake provider as a command with a script.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic.types import TextBlock

from luthien.testing.fake_provider.__main__ import main as fake_provider_main
from tests.support.ports import free_port
from tests.support.pytest_runs import MATRIX_SIZE, run_pytest

SHOUT = '''
import dataclasses
from luthien.policy import BlockKind, Policy, PolicyConfig


class Shout(Policy[PolicyConfig]):
    """Upper-cases the text as it streams."""

    async def on_block_delta(self, event, ctx):
        if event.kind is BlockKind.TEXT:
            return [dataclasses.replace(event, text=event.text.upper())]
        return [event]
'''
EXPECT_SHOUT = """
def pytest_luthien_expected_text(policy, text):
    return text.upper() if policy == "Shout" else None
"""
USAGE_ERROR = 4  # pytest's exit code for a bad command line
FAKE_STARTUP_TIMEOUT_S = 20.0


def test_matrix_runs_on_a_policy_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "shout.py").write_text(SHOUT)
    (tmp_path / "conftest.py").write_text(EXPECT_SHOUT)

    code, totals = run_pytest(tmp_path, "--policy=shout:Shout")

    assert (code, totals) == (0, {"tests": MATRIX_SIZE, "failures": 0, "errors": 0})


def test_matrix_fails_when_the_policy_does_not_do_what_the_hook_expects(tmp_path: Path) -> None:
    (tmp_path / "shout.py").write_text(SHOUT)  # no conftest: the text is expected unchanged

    code, totals = run_pytest(tmp_path, "--policy=shout:Shout")

    assert code == pytest.ExitCode.TESTS_FAILED
    assert totals["failures"] == MATRIX_SIZE


def test_an_unknown_policy_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "shout.py").write_text(SHOUT)

    code, totals = run_pytest(tmp_path, "--policy=shout:Shuot")

    assert code == USAGE_ERROR
    assert totals["tests"] == 0


# --- python -m luthien.testing.fake_provider ----------------------------------------------------

SCRIPT = """
from luthien.testing.fake_provider import JSONReply, anthropic_message

replies = [JSONReply(anthropic_message("scripted answer"))]
"""


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + FAKE_STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "the fake provider exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the fake provider did not start listening")


@pytest.fixture
def scripted_fake(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "replies.py"
    script.write_text(SCRIPT)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "luthien.testing.fake_provider",
        "--port",
        str(port),
        "--script",
        str(script),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_fake_provider_command_answers_from_its_script(scripted_fake: str) -> None:
    with anthropic.Anthropic(base_url=scripted_fake, api_key="k", max_retries=0) as client:
        first = client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        second = client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )

    [block] = first.content
    assert isinstance(block, TextBlock)
    assert block.text == "scripted answer"
    [default] = second.content  # the script is used up: the realistic default follows
    assert isinstance(default, TextBlock)
    assert default.text != "scripted answer"


def test_fake_provider_command_refuses_a_script_without_replies(tmp_path: Path) -> None:
    script = tmp_path / "empty.py"
    script.write_text("x = 1\n")

    assert fake_provider_main(["--port", "0", "--script", str(script)]) == 2
