"""`luthien new-policy`: a scaffold that passes its own tests and the plugin's client matrix.

Both run outside the repository, in a pytest subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from luthien.cli import main
from tests.support.pytest_runs import MATRIX_SIZE, run_pytest

SCAFFOLD_TESTS = 18  # 6 pass-through + 9 redaction + 3 tool-call cases
USAGE_ERROR = 2


def test_the_scaffold_passes_its_tests_and_the_client_matrix(tmp_path: Path) -> None:
    assert main(["new-policy", "redact_secrets", "--dir", str(tmp_path)]) == 0
    assert main(["check-config", str(tmp_path / "redact_secrets.yaml")]) == USAGE_ERROR  # not importable yet

    code, totals = run_pytest(tmp_path, "--policy=redact_secrets:RedactSecrets")

    assert (code, totals) == (0, {"tests": SCAFFOLD_TESTS + MATRIX_SIZE, "failures": 0, "errors": 0})


def test_the_scaffold_config_checks_once_the_module_is_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["new-policy", "guard_rails", "--dir", str(tmp_path)]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))

    assert main(["check-config", str(tmp_path / "guard_rails.yaml")]) == 0


def test_the_scaffold_never_overwrites_and_refuses_bad_names(tmp_path: Path) -> None:
    assert main(["new-policy", "mine", "--dir", str(tmp_path)]) == 0
    before = (tmp_path / "mine.py").read_bytes()

    assert main(["new-policy", "mine", "--dir", str(tmp_path)]) == USAGE_ERROR
    assert main(["new-policy", "Not-A-Module", "--dir", str(tmp_path)]) == USAGE_ERROR
    assert (tmp_path / "mine.py").read_bytes() == before
    assert not (tmp_path / "Not-A-Module.py").exists()
