"""Running pytest in a subprocess with the test kit's plugin, as a project outside this repository would."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

MATRIX_SIZE = 6
"""The cases of the plugin's client matrix: three client APIs, streaming and not."""


def _clean_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LUTHIEN_")}
    # Only `-p luthien.testing` loads the plugin: it must work without the entry point.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def run_pytest(directory: Path, *args: str) -> tuple[int, dict[str, int]]:
    """Run pytest in `directory`; return its exit code and the junit totals (tests, failures, errors)."""
    report = directory / "report.xml"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "luthien.testing", "-q", f"--junitxml={report}", *args],
        cwd=directory,
        env=_clean_env(),
        capture_output=True,
        check=False,
    )
    totals = {"tests": 0, "failures": 0, "errors": 0}
    if report.exists():
        suite = ElementTree.parse(report).getroot().find("testsuite")
        assert suite is not None
        totals = {key: int(suite.get(key, "0")) for key in totals}
    return completed.returncode, totals
