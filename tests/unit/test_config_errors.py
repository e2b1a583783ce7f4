"""Config errors that say what to do: the entry, the problem, a suggestion, exit 2 without a traceback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from luthien.cli import log_startup, main
from luthien.config import ConfigError, LuthienConfig
from luthien.policy.registry import build_policies
from luthien.settings import Settings

GOOD_MODULE = """
from luthien.policy import Policy, PolicyConfig


class ShellGuard(Policy[PolicyConfig]):
    \"\"\"Guards shells.\"\"\"


class Helper:
    pass
"""
RAISING_CONSTRUCTOR = """
from luthien.policy import Policy, PolicyConfig


class Fragile(Policy[PolicyConfig]):
    def __init__(self, config, name=""):
        super().__init__(config, name)
        raise RuntimeError("cannot read the rules file")
"""
MODULES = {
    "kit_guard": GOOD_MODULE,
    "kit_fragile": RAISING_CONSTRUCTOR,
    "kit_broken_syntax": "def oops(:\n    pass\n",
    "kit_needs_missing": "import kit_not_installed_anywhere\n",
    "kit_raises_at_import": "raise RuntimeError('no configuration file found')\n",
}
CONFIG_ERROR_EXIT = 2


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, source in MODULES.items():
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def build(policies: dict[str, Any], active: str | None = None) -> ConfigError:
    config = LuthienConfig.model_validate({"policies": policies, "policy": active})
    with pytest.raises(ConfigError) as caught:
        build_policies(config, active or next(iter(policies)))
    return caught.value


@pytest.mark.usefixtures("modules")
@pytest.mark.parametrize(
    ("reference", "problem", "suggestion"),
    [
        ("string_replce", "unknown_policy", "string_replace"),
        ("kit_gaurd:ShellGuard", "module_not_found", None),
        ("kit_broken_syntax:Anything", "syntax_error", None),
        ("kit_needs_missing:Anything", "import_failed", None),
        ("kit_raises_at_import:Anything", "import_failed", None),
        ("kit_guard:ShellGaurd", "missing_class", "kit_guard:ShellGuard"),
        ("kit_guard:Helper", "not_a_policy", None),
        ("kit_fragile:Fragile", "constructor_failed", None),
    ],
)
def test_a_class_that_cannot_be_built_names_the_entry(
    reference: str, problem: str, suggestion: str | None
) -> None:
    error = build({"mine": {"class": reference}})

    assert (error.problem, error.entry, error.suggestion) == (problem, "mine", suggestion)
    assert error.field == ("policies.mine.class" if problem != "constructor_failed" else None)


def test_a_misspelled_active_policy_suggests_the_configured_one() -> None:
    error = build({"redact": {"class": "all_caps"}}, active="redcat")

    assert (error.problem, error.field, error.suggestion) == ("unknown_policy", "policy", "redact")


def test_a_chain_member_that_does_not_exist_names_the_chain() -> None:
    error = build({"guarded": {"class": "chain", "config": {"policies": ["all_cap"]}}})

    assert (error.problem, error.entry, error.suggestion) == ("unknown_policy", "guarded", "all_caps")


def test_a_validator_message_has_no_value_error_prefix() -> None:
    error = build(
        {
            "r": {
                "class": "string_replace",
                "config": {"replacements": [{"find": "(", "replace": "", "regex": True}]},
            }
        }
    )

    assert (error.problem, error.entry, error.field) == (
        "invalid_config",
        "r",
        "policies.r.config.replacements.0",
    )
    assert "Value error, " not in str(error)


def write_config(tmp_path: Path, policies: dict[str, Any], active: str) -> Path:
    path = tmp_path / "luthien.yaml"
    path.write_text(yaml.safe_dump({"policies": policies, "policy": active}))
    return path


@pytest.mark.usefixtures("modules")
def test_check_config_exits_2_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {"mine": {"class": "kit_fragile:Fragile"}}, "mine")

    assert main(["check-config", str(path)]) == CONFIG_ERROR_EXIT
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.usefixtures("modules")
def test_serve_refuses_to_start_on_a_syntax_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, {"mine": {"class": "kit_broken_syntax:Anything"}}, "mine")
    monkeypatch.setenv("LUTHIEN_CONFIG", str(path))

    assert main(["serve"]) == CONFIG_ERROR_EXIT
    assert "Traceback" not in capsys.readouterr().err


def test_startup_logs_the_config_file_and_the_active_policy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, {"redact": {"class": "all_caps"}}, "redact")

    with caplog.at_level(logging.INFO, logger="luthien"):
        log_startup(Settings.model_validate({"config": path}), "redact")

    [record] = caplog.records
    assert (record.__dict__["config_file"], record.__dict__["active_policy"]) == (str(path), "redact")


@pytest.mark.parametrize("schema", [False, True])
def test_listing_policies_into_a_closed_pipe_exits_quietly(schema: bool) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written, like `| head` once done
    command = [sys.executable, "-c", "import sys; from luthien.cli import main; sys.exit(main(sys.argv[1:]))"]
    completed = subprocess.run(
        [*command, "policies", *(["--schema"] if schema else [])],
        stdout=write_end,
        stderr=subprocess.PIPE,
        check=False,
        timeout=60,
    )
    os.close(write_end)

    assert (completed.returncode, completed.stderr) == (0, b"")


def test_allow_unchecked_takes_paths_only() -> None:
    assert LuthienConfig.model_validate({"allow_unchecked": ["/v1/chat/completions"]}).allow_unchecked == [
        "/v1/chat/completions"
    ]
    with pytest.raises(ValidationError) as caught:
        LuthienConfig.model_validate({"allow_unchecked": ["v1/chat/completions"]})
    assert caught.value.errors()[0]["loc"] == ("allow_unchecked",)
