"""The official SDKs' own API suites (vendored under tests/sdk_suites) run against a mock of the provider.

A `MockServer` is a mock generated from an OpenAPI spec (Steady for OpenAI, Prism for
Anthropic; installed by `make test` under `.cache/npm`). `start_suite` runs one vendored suite in a
pytest subprocess against a base URL (the mock itself, or Luthien in front of it); `SuiteRun.wait`
returns the outcome of each test, read from the run's JUnit XML report.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import yaml

from tests.support.ports import free_port
from tests.support.serve_process import clean_env

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "tests" / "sdk_suites"
MOCK_BIN = ROOT / ".cache" / "npm" / "node_modules" / ".bin"
OPENAI_SUITE = SUITES / "openai"
ANTHROPIC_SUITE = SUITES / "anthropic"
SPEC_FILE = "openapi.yaml"
BASE_URL_VARIABLE = "TEST_API_BASE_URL"
"""The environment variable both SDK suites read their server's base URL from."""
MOCK_START_S = 120.0
"""How long a mock may take to load its spec (OpenAI's is ~3 MB) on a loaded machine."""
SUITE_TIMEOUT_S = 900.0
"""A generous guard against a hung suite, not a performance threshold."""
POLL_S = 0.1
_COVERAGE_PREFIX = "COVERAGE_"
STOP_S = 10.0


OPENAI_PATH_PREFIX = "/v1"
"""Where OpenAI's paths live: its spec names them without it (its server URL ends in `/v1`)."""


def under_prefix(spec: Path, prefix: str, out_dir: Path) -> Path:
    """A copy of `spec` with every path under `prefix`, for a mock that ignores server URLs.

    Luthien's OpenAI upstream, like the SDK, has a base URL ending in `/v1`; Steady serves the
    spec's paths from its root. Serving them under `/v1` lets the same base URL reach the mock
    directly and through Luthien.
    """
    document: dict[str, Any] = yaml.load(spec.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    document["paths"] = {f"{prefix}{path}": item for path, item in document["paths"].items()}
    out = out_dir / f"{spec.stem}-under-{prefix.strip('/')}.yaml"
    text = yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False)  # pyright: ignore[reportUnknownMemberType]
    out.write_text(text, encoding="utf-8")
    return out


def steady_command(spec: Path, port: int) -> list[str]:
    """Steady serving `spec` on `127.0.0.1:port`."""
    return [str(MOCK_BIN / "steady"), "--host", "127.0.0.1", "-p", str(port), "-q", str(spec)]


def prism_command(spec: Path, port: int) -> list[str]:
    """Prism serving `spec` on `127.0.0.1:port` (static examples from the spec)."""
    return [str(MOCK_BIN / "prism"), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn", str(spec)]


def mocks_installed() -> bool:
    """Whether `make test` has installed both mock servers."""
    return (MOCK_BIN / "steady").exists() and (MOCK_BIN / "prism").exists()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=POLL_S):
            return True
    except OSError:
        return False


class MockServer:
    """A mock server process (in its own process group: the npm launchers start a child)."""

    def __init__(self, command: list[str], port: int, log_path: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self._command = command
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> MockServer:
        """Start the process; return once its port accepts connections."""
        self._log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            self._command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + MOCK_START_S
        while not _accepts(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"mock did not start: {self._log_path.read_text(errors='replace')}")
            time.sleep(POLL_S)
        return self

    def stop(self) -> None:
        """Stop the process and its children."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        if self._log is not None:
            self._log.close()


def start_mock(kind: str, spec: Path, log_dir: Path) -> MockServer:
    """Steady (`kind` "steady") or Prism ("prism") serving `spec` on a free loopback port."""
    port = free_port()
    command = steady_command(spec, port) if kind == "steady" else prism_command(spec, port)
    return MockServer(command, port, log_dir / f"{kind}-{port}.log").start()


class Outcome(StrEnum):
    """A test's outcome in a JUnit XML report."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


def read_junit(path: Path) -> dict[str, Outcome]:
    """Each test of a JUnit XML report (`classname::name`) and its outcome."""
    outcomes: dict[str, Outcome] = {}
    for case in ElementTree.parse(path).iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome = Outcome.PASSED
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = Outcome(child.tag if child.tag != "failure" else "failed")
        outcomes[test_id] = outcome
    return outcomes


@dataclass(frozen=True, slots=True)
class SuiteResults:
    """One run of one suite: each test's outcome."""

    outcomes: dict[str, Outcome]

    @property
    def passed(self) -> frozenset[str]:
        """The tests that passed."""
        return frozenset(test for test, outcome in self.outcomes.items() if outcome is Outcome.PASSED)


def suite_env(base_url: str) -> dict[str, str]:
    """The environment of a suite's run: no Luthien or SDK settings, and not measured by coverage.

    Nothing of Luthien runs in it (the test kit's plugin is disabled), so coverage's subprocess
    measurement would only slow it down and leave data files in the suite's directory.
    """
    env = clean_env(**{BASE_URL_VARIABLE: base_url})
    return {name: value for name, value in env.items() if not name.startswith(_COVERAGE_PREFIX)}


class SuiteRun:
    """A vendored suite running in a pytest subprocess; `wait()` for its results."""

    def __init__(self, suite: Path, base_url: str, report: Path) -> None:
        self._report = report
        self._output = report.with_suffix(".log")
        self._log = self._output.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}", "-p", "no:luthien.testing.plugin"],
            cwd=suite,
            env=suite_env(base_url),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait(self) -> SuiteResults:
        """The outcome of each test (AssertionError when the run produced no report)."""
        try:
            self._process.wait(SUITE_TIMEOUT_S)
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            self._log.close()
        assert self._report.exists(), self._output.read_text(errors="replace")[-4000:]
        return SuiteResults(read_junit(self._report))


def start_suite(suite: Path, base_url: str, report: Path) -> SuiteRun:
    """Run `suite` (its vendored `tests/`) against `base_url`, writing a JUnit XML report to `report`."""
    return SuiteRun(suite, base_url, report)
