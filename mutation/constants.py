"""Runs the constant mutants (`constant_mutants.py`) of the safety-critical modules against their tests.

The modules are the `only_mutate` list of `[tool.mutmut]` in pyproject.toml. Each mutant is written
into a scratch copy of `src/` and `tests/` (never the work tree), and the module's unit tests run
against it (`pytest -x -q`) in a fork of this process, which imports from the copy only; a failing or
erroring run kills the mutant. Results go to `mutants/constants.json`, per module, by mutant key;
`mutation/report.py` turns them into the score table. Usage (niced, the machine is shared):

    nice -n 19 python mutation/constants.py [--list] [src/luthien/policies/block_commands.py ...]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from constant_mutants import module_mutants

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "mutants" / "constants.json"

# The unit tests that cover each module's constants (fast: a mutant costs one pytest start).
TESTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "src/luthien/gateway/auth.py": ("tests/unit/test_headers_auth_routing.py",),
    "src/luthien/gateway/headers.py": ("tests/unit/test_headers_auth_routing.py",),
    "src/luthien/wire/formats.py": ("tests/unit/test_headers_auth_routing.py",),
    "src/luthien/policies/judging.py": ("tests/unit/test_judging.py",),
    "src/luthien/policies/tool_call_judge.py": (
        "tests/unit/test_judging.py",
        "tests/unit/test_mutants_judge_escalation.py",
    ),
    "src/luthien/policies/block_commands.py": (
        "tests/unit/test_block_commands.py",
        "tests/unit/test_block_commands_rules.py",
    ),
    "src/luthien/call/repair.py": ("tests/unit/test_repair.py", "tests/unit/test_runner.py"),
    "src/luthien/policy/runner.py": (
        "tests/unit/test_runner.py",
        "tests/unit/test_runner_held_bytes.py",
        "tests/unit/test_mutants_runner.py",
    ),
    "src/luthien/records/secrets.py": (
        "tests/unit/test_records_parts.py",
        "tests/unit/test_mutants_shadow_secrets.py",
    ),
    "src/luthien/approvals/service.py": (
        "tests/unit/test_approvals_store.py",
        "tests/unit/test_mutants_approvals.py",
    ),
    "src/luthien/ratelimit/limiter.py": ("tests/unit/test_mutants_limiter.py",),
}
# The unit tests use no fixture of tests/conftest.py, whose imports (a whole server) cost most of a run.
_PYTEST_ARGS = ("-x", "-q", "--noconftest", "-p", "no:cacheprovider", "-p", "no:cov", "-p", "no:randomly")
# What tests/conftest.py removes from the environment (a developer's settings), removed here instead.
_ISOLATED_PREFIXES = ("LUTHIEN_",)
_ISOLATED_NAMES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")
# A mutant's run may take this many times the clean run (plus the margin) before it counts as killed
# by timeout (a mutant that makes a loop spin).
_TIMEOUT_FACTOR = 10
_TIMEOUT_MARGIN_S = 60.0
_POLL_S = 0.05
_KILLED_BY = {1: "killed (a test failed)", 2: "killed (import or collection error)", None: "killed (timeout)"}
_PRELOADED = (
    "aiohttp",
    "anthropic",
    "httpx",
    "hypothesis",
    "multidict",
    "openai",
    "orjson",
    "pydantic",
    "pydantic_settings",
    "pytest_asyncio",
    "sqlalchemy",
    "starlette",
    "yaml",
)


def mutated_modules() -> list[str]:
    """The modules under mutation testing: `[tool.mutmut] only_mutate` in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


# --- running ----------------------------------------------------------------------------------------


@dataclass
class ModuleResult:
    """Which mutants of one module the tests killed, and which survived."""

    killed: list[str]
    survived: list[str]


def _scratch_copy() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="luthien-mutate-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "src", scratch / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", scratch / "tests", ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", scratch / "pyproject.toml")
    return scratch


def _preload() -> None:
    """Import pytest and the heavy third-party libraries once; each test run forks from here.

    Forking saves the interpreter start and these imports (most of a run's time); luthien and the
    tests are never imported here, so each fork imports the mutated source afresh.
    """
    for name in _PRELOADED:
        importlib.import_module(name)
    assert not any(name == "luthien" or name.startswith(("luthien.", "tests.")) for name in sys.modules)


def _in_scratch(scratch: Path) -> None:
    """In a fork: import from the scratch copy only, and print nothing."""
    os.chdir(scratch)
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES) or name in _ISOLATED_NAMES:
            del os.environ[name]
    sys.path[:] = [str(scratch / "src"), str(scratch), *(p for p in sys.path if p != str(ROOT / "src"))]
    # A mutant can keep the size and modification second of the original: no bytecode at all.
    sys.dont_write_bytecode = True
    with open(os.devnull, "w") as quiet:
        os.dup2(quiet.fileno(), 1)
        os.dup2(quiet.fileno(), 2)


def _check_scratch_is_imported(scratch: Path) -> None:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _in_scratch(scratch)
            luthien = importlib.import_module("luthien")
            code = 0 if Path(str(luthien.__file__)).is_relative_to(scratch) else 1
        finally:
            os._exit(code)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise SystemExit("the tests would not import luthien from the scratch copy")


def _run_tests(scratch: Path, tests: Sequence[str], timeout_s: float | None) -> int | None:
    """The pytest exit code of a run in a fork, or None when the run exceeded `timeout_s`."""
    pid = os.fork()
    if pid == 0:  # the child: run, and leave without the parent's cleanup
        code = 3
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _in_scratch(scratch)
            code = int(pytest.main([*tests, *_PYTEST_ARGS]))
        finally:
            os._exit(code)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = 0
                return os.waitstatus_to_exitcode(status)
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(_POLL_S)
    finally:
        if pid:  # timed out, or this process is stopping: the run must not outlive it
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def run_module(module: str, scratch: Path) -> ModuleResult:
    """Run every constant mutant of one module against its tests; the copy is restored after each."""
    target = scratch / module
    original = target.read_bytes()
    tests = TESTS_BY_MODULE[module]
    mutants = module_mutants(original)
    started = time.monotonic()
    if _run_tests(scratch, tests, None) != 0:
        raise SystemExit(f"{module}: the tests fail without any mutant; fix them first")
    timeout_s = (time.monotonic() - started) * _TIMEOUT_FACTOR + _TIMEOUT_MARGIN_S
    result = ModuleResult([], [])
    try:
        for number, mutant in enumerate(mutants, 1):
            target.write_bytes(mutant.apply(original))
            code = _run_tests(scratch, tests, timeout_s)
            if code == 5:
                raise SystemExit(f"{module}: pytest collected no test")
            survived = code == 0
            (result.survived if survived else result.killed).append(mutant.key)
            outcome = "SURVIVED" if survived else _KILLED_BY.get(code, f"killed (exit {code})")
            print(f"  [{number}/{len(mutants)}] {outcome}: {mutant.key}", flush=True)
    finally:
        target.write_bytes(original)
    return result


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or with `--list`, list) the constant mutants of the given modules (default: all)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", help="source paths (default: [tool.mutmut] only_mutate)")
    parser.add_argument("--list", action="store_true", help="print the mutants without running them")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="MODULE",
        help="leave this source path out (repeatable)",
    )
    options = parser.parse_args(argv)
    modules: list[str] = [
        module for module in options.modules or mutated_modules() if module not in options.skip
    ]
    unknown = [module for module in modules if module not in TESTS_BY_MODULE]
    if unknown:
        parser.error(f"no tests are configured for {unknown} (TESTS_BY_MODULE)")
    if options.list:
        for module in modules:
            for mutant in module_mutants((ROOT / module).read_bytes()):
                print(f"{module}: {mutant.key}")
        return 0
    # Stopped (Ctrl-C, or `kill` when started in the background): clean up through `finally`.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    results: dict[str, dict[str, list[str]]] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    scratch = _scratch_copy()
    try:
        _preload()
        _check_scratch_is_imported(scratch)
        for module in modules:
            print(f"{module}", flush=True)
            result = run_module(module, scratch)
            results[module] = {"killed": result.killed, "survived": result.survived}
            RESULTS.parent.mkdir(exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
            total = len(result.killed) + len(result.survived)
            print(f"{module}: {len(result.killed)}/{total} constant mutants killed", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
