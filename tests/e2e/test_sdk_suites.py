"""The official SDKs' own API suites pass through Luthien wherever they pass against the mock directly.

openai-python's `tests/api_resources` for Chat Completions (and stored completions), Responses and
Models, and anthropic-sdk-python's for Messages, Message Batches (and the beta ones) and Models,
vendored with their licences under tests/sdk_suites (README there), run against a mock generated
from an OpenAPI spec (Steady serving OpenAI's; Prism serving one generated from the anthropic SDK's
own types by tests/sdk_suites_anthropic_spec.py, kept in sync by the last test), first directly, then
through Luthien in front of the same mock. Every test that passes directly must pass through
Luthien: with no policy (noop) exactly; with a response-inspecting policy (all_caps), all but the
tests of what such a policy refuses by design: listing stored chat completions (unchecked, 403
without `allow_unchecked`) and legacy `functions` (400). The two suites of a run go side by side,
in subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from luthien.config import LuthienConfig
from luthien.settings import Settings
from tests import sdk_suites_anthropic_spec
from tests.support.sdk_suites import (
    ANTHROPIC_SUITE,
    OPENAI_PATH_PREFIX,
    OPENAI_SUITE,
    ROOT,
    SPEC_FILE,
    MockServer,
    SuiteResults,
    mocks_installed,
    start_mock,
    start_suite,
    under_prefix,
)
from tests.support.servers import LuthienServer

needs_mocks = pytest.mark.skipif(
    not mocks_installed() and not os.environ.get("CI"),
    reason="the mock servers are not installed (run `make test`, which installs them under .cache/npm)",
)

SUITE_TIMEOUT_S = 1800
INSPECTING_POLICY = "all_caps"
_CHAT_TESTS = (
    ("tests.api_resources.chat.test_completions.TestCompletions", ("loose", "strict")),
    ("tests.api_resources.chat.test_completions.TestAsyncCompletions", ("loose", "strict", "aiohttp")),
)


def chat_tests(*names: str) -> frozenset[str]:
    """The ids of openai-python's Chat Completions tests `names`, sync and async, for each client."""
    return frozenset(
        f"{cls}::{name}[{client}]" for cls, clients in _CHAT_TESTS for name in names for client in clients
    )


SEND_LEGACY_FUNCTIONS = chat_tests(
    "test_method_create_with_all_params_overload_1", "test_method_create_with_all_params_overload_2"
)
"""Tests whose calls send legacy `functions`: refused (400) while a policy inspects responses."""
LIST_STORED_COMPLETIONS = chat_tests(
    "test_method_list",
    "test_method_list_with_all_params",
    "test_raw_response_list",
    "test_streaming_response_list",
)
"""Tests that list stored chat completions (unchecked): refused (403) unless `allow_unchecked` names it."""


@dataclass(frozen=True, slots=True)
class Mocks:
    """The two mock servers."""

    openai: MockServer
    anthropic: MockServer


@dataclass(frozen=True, slots=True)
class Results:
    """One run of both suites."""

    openai: SuiteResults
    anthropic: SuiteResults


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sdk-suites")


@pytest.fixture(scope="module")
def mocks(work_dir: Path) -> Iterator[Mocks]:
    openai_spec = under_prefix(OPENAI_SUITE / SPEC_FILE, OPENAI_PATH_PREFIX, work_dir)
    openai = start_mock("steady", openai_spec, work_dir)
    try:
        anthropic = start_mock("prism", ANTHROPIC_SUITE / SPEC_FILE, work_dir)
    except AssertionError:
        openai.stop()
        raise
    yield Mocks(openai, anthropic)
    openai.stop()
    anthropic.stop()


def luthien_in_front(mocks: Mocks, work_dir: Path, config: LuthienConfig) -> LuthienServer:
    """Luthien (passthrough auth: the suites send their own keys) with both upstreams at the mocks."""
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{work_dir / uuid.uuid4().hex}.db",
            "anthropic_base_url": mocks.anthropic.base_url,
            "openai_base_url": f"{mocks.openai.base_url}{OPENAI_PATH_PREFIX}",
        }
    )
    return LuthienServer(settings, config).start()


def run_both(work_dir: Path, label: str, openai_url: str, anthropic_url: str) -> Results:
    """Both suites side by side, against the given base URLs."""
    openai = start_suite(OPENAI_SUITE, openai_url, work_dir / f"openai-{label}.xml")
    anthropic = start_suite(ANTHROPIC_SUITE, anthropic_url, work_dir / f"anthropic-{label}.xml")
    return Results(openai.wait(), anthropic.wait())


def through(mocks: Mocks, work_dir: Path, label: str, config: LuthienConfig) -> Results:
    server = luthien_in_front(mocks, work_dir, config)
    try:
        return run_both(work_dir, label, f"{server.base_url}/v1", server.base_url)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def direct(mocks: Mocks, work_dir: Path) -> Results:
    openai_url = f"{mocks.openai.base_url}{OPENAI_PATH_PREFIX}"
    results = run_both(work_dir, "direct", openai_url, mocks.anthropic.base_url)
    # Non-vacuous: each suite must have tests that pass against its mock.
    assert results.openai.passed, results.openai.outcomes
    assert results.anthropic.passed, results.anthropic.outcomes
    return results


def lost(direct: SuiteResults, through_luthien: SuiteResults) -> list[str]:
    """The tests that passed directly but not through Luthien."""
    return sorted(direct.passed - through_luthien.passed)


@needs_mocks
@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_every_suite_test_passing_directly_passes_through_luthien(
    mocks: Mocks, work_dir: Path, direct: Results
) -> None:
    results = through(mocks, work_dir, "noop", LuthienConfig())

    assert (lost(direct.openai, results.openai), lost(direct.anthropic, results.anthropic)) == ([], [])


@needs_mocks
@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_with_a_response_inspecting_policy_only_what_it_cannot_check_is_refused(
    mocks: Mocks, work_dir: Path, direct: Results
) -> None:
    inspecting = LuthienConfig.model_validate({"policy": INSPECTING_POLICY})
    results = through(mocks, work_dir, "inspecting", inspecting)

    refused = sorted((SEND_LEGACY_FUNCTIONS | LIST_STORED_COMPLETIONS) & direct.openai.passed)
    assert (lost(direct.openai, results.openai), lost(direct.anthropic, results.anthropic)) == (refused, [])
    assert refused  # the refusals are exercised: their tests pass against the mock directly


def test_the_committed_anthropic_spec_is_the_one_generated_from_the_installed_sdk(tmp_path: Path) -> None:
    # Generated in a process of its own: pydantic's schemas can depend on what a process built before.
    generated = tmp_path / SPEC_FILE
    subprocess.run(
        [sys.executable, "-m", sdk_suites_anthropic_spec.__name__, str(generated)], check=True, cwd=ROOT
    )

    committed = (ANTHROPIC_SUITE / SPEC_FILE).read_text(encoding="utf-8")
    assert committed == generated.read_text(encoding="utf-8"), (
        "regenerate it: python -m tests.sdk_suites_anthropic_spec"
    )
