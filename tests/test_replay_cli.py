"""`luthien replay` refusing what it cannot use: exit 2 for arguments and config, 1 for the database."""

from __future__ import annotations

import pytest

from luthien.cli import main
from tests.support.ports import free_port


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--policy", "nope"], "nope"),
        (["--policy", "block_commands", "--since", "yesterday"], "--since"),
        (["--policy", "block_commands", "--filter", "status"], "--filter"),
        (["--policy", "block_commands", "--filter", "colour=red"], "--filter"),
        (["--policy", "block_commands", "--filter", "status=sideways"], "--filter"),
        (["--policy", "block_commands", "--url", "mysql://localhost/x"], "mysql"),
    ],
)
def test_unusable_arguments_exit_2(args: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", *args]) == 2
    assert option in capsys.readouterr().err


def test_invalid_settings_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LUTHIEN_JUDGE_INPUT_USD_PER_MTOK", "-1")

    assert main(["replay", "--policy", "block_commands"]) == 2
    assert "invalid settings" in capsys.readouterr().err


def test_an_unreachable_database_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/x"

    assert main(["replay", "--policy", "block_commands", "--url", url]) == 1
    assert "database error" in capsys.readouterr().err
