"""The `luthien` command line: settings docs, config errors at startup, and a real `serve`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from luthien import settings_docs
from luthien.cli import main
from tests.fake_provider import FakeProvider
from tests.support.ports import free_port
from tests.support.serve_process import clean_env, start_serve, stop, wait_until_serving

BIN = Path(sys.executable).parent
LUTHIEN = str(BIN / "luthien")
# Bounds for waiting on a subprocess: generous, since a loaded machine may be slow to start Python.
COMMAND_TIMEOUT_S = 60.0


def run(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


# -- settings-docs -----------------------------------------------------------------------------------


def test_settings_docs_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings-docs"]) == 0

    out = capsys.readouterr().out
    assert out == settings_docs.markdown_table() + "\n"
    assert out.startswith("| Variable | Default | Meaning |")
    assert "`LUTHIEN_API_KEY`" in out


def test_settings_docs_subprocess_prints_the_table() -> None:
    result = run([LUTHIEN, "settings-docs"])

    assert result.returncode == 0
    assert result.stdout == settings_docs.markdown_table() + "\n"


README = """# Project

Intro text.

<!-- settings:begin -->
| stale | table |
<!-- settings:end -->

Text after the table.
"""


def expected_readme() -> str:
    before, after = README.split("| stale | table |\n")
    return f"{before}{settings_docs.markdown_table()}\n{after}"


def test_settings_docs_write_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text(README, encoding="utf-8")

    assert main(["settings-docs", "--write", "--root", str(tmp_path)]) == 0

    assert capsys.readouterr().out == ""
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == expected_readme()
    assert (tmp_path / ".env.example").read_text(encoding="utf-8") == settings_docs.env_example()
    # Idempotent: a second run changes nothing.
    assert main(["settings-docs", "--write", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == expected_readme()


def test_settings_docs_write_subprocess_defaults_to_current_directory(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README, encoding="utf-8")

    result = run([LUTHIEN, "settings-docs", "--write"], cwd=tmp_path)

    assert result.returncode == 0
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == expected_readme()
    env_example = (tmp_path / ".env.example").read_text(encoding="utf-8")
    assert env_example == settings_docs.env_example()
    assert "LUTHIEN_PORT=8000" in env_example.splitlines()
    assert "# LUTHIEN_API_KEY=" in env_example.splitlines()


def test_help_and_usage_errors() -> None:
    help_result = run([sys.executable, "-m", "luthien", "--help"])
    assert help_result.returncode == 0
    assert "serve" in help_result.stdout
    assert "settings-docs" in help_result.stdout

    serve_help = run([LUTHIEN, "serve", "--help"])
    assert serve_help.returncode == 0
    assert "--port" in serve_help.stdout

    assert run([LUTHIEN]).returncode == 2
    assert run([LUTHIEN, "no-such-command"]).returncode == 2
    assert run([LUTHIEN, "serve", "--port", "not-a-number"]).returncode == 2


def test_main_without_command_exits_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])

    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- serve: invalid configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ('routes: [{model: "x", upstream: "nope"}]\n', "routes[0].upstream"),
        (
            "upstreams:\n  local:\n    format: grpc\n    base_url: http://127.0.0.1:1\n",
            "upstreams.local.format",
        ),
        ("upstreams:\n  local:\n    format: openai\n    base_url: ftp://host\n", "upstreams.local.base_url"),
        ("upstreams:\n  local:\n    format: openai\n", "upstreams.local.base_url"),
        ("routes: [{model: x, upstream: openai, weight: 2}]\n", "routes.0.weight"),
        ("unknown_section: 1\n", "unknown_section"),
    ],
    ids=["unknown-upstream", "bad-format", "bad-url-scheme", "missing-url", "extra-route-field", "extra-key"],
)
def test_serve_with_invalid_config_exits_2_naming_the_field(
    tmp_path: Path, yaml_text: str, field: str
) -> None:
    config = tmp_path / "luthien.yaml"
    config.write_text(yaml_text, encoding="utf-8")

    result = run([LUTHIEN, "serve", "--port", str(free_port())], env=clean_env(LUTHIEN_CONFIG=str(config)))

    assert result.returncode == 2
    assert field in result.stderr
    assert str(config) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"LUTHIEN_CONFIG": "/nonexistent/luthien.yaml"},
        {"LUTHIEN_PORT": "not-a-port"},
        {"LUTHIEN_PORT": "70000"},
        {"LUTHIEN_AUTH_MODE": "proxy"},
        {"LUTHIEN_AUTH_MODE": "sometimes", "LUTHIEN_API_KEY": "k"},
        {"LUTHIEN_MAX_REQUEST_BYTES": "10"},
    ],
    ids=["missing-config", "port-not-int", "port-range", "proxy-without-key", "bad-auth-mode", "tiny-limit"],
)
def test_serve_with_invalid_settings_exits_2(env: dict[str, str]) -> None:
    result = run([LUTHIEN, "serve"], env=clean_env(**env))

    assert result.returncode == 2
    assert result.stderr.startswith("luthien: invalid configuration")
    assert "Traceback" not in result.stderr


def test_serve_with_unparsable_yaml_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "luthien.yaml"
    config.write_text("routes: [unclosed\n", encoding="utf-8")

    result = run([LUTHIEN, "serve"], env=clean_env(LUTHIEN_CONFIG=str(config)))

    assert result.returncode == 2
    assert str(config) in result.stderr
    assert "Traceback" not in result.stderr


# -- serve: a real server -----------------------------------------------------------------------------


# A service told to stop (SIGTERM, or Ctrl-C) that shut down gracefully exits 0.
CLEAN_EXIT = 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_serve_answers_health_and_exits_cleanly(
    serve_processes: list[subprocess.Popen[str]], sig: signal.Signals
) -> None:
    port = free_port()
    process = start_serve(serve_processes, ["--port", str(port)], clean_env(LUTHIEN_LOG_LEVEL="warning"))

    health = wait_until_serving(process, f"http://127.0.0.1:{port}/health")

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert "x-luthien-transaction-id" in health.headers
    returncode, stderr = stop(process, sig)
    assert returncode == CLEAN_EXIT
    assert "Traceback" not in stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")


def test_serve_reads_settings_and_config_from_environment(
    serve_processes: list[subprocess.Popen[str]], fake: FakeProvider, tmp_path: Path
) -> None:
    config = tmp_path / "luthien.yaml"
    config.write_text(
        f"upstreams:\n  second:\n    format: openai\n    base_url: {fake.base_url}/v1\n"
        '    api_key_env: SECOND_KEY\nroutes:\n  - model: "llama*"\n    upstream: second\n',
        encoding="utf-8",
    )
    port = free_port()
    env = clean_env(
        LUTHIEN_PORT=str(port),
        LUTHIEN_HOST="127.0.0.1",
        LUTHIEN_CONFIG=str(config),
        LUTHIEN_API_KEY="proxy-key",
        LUTHIEN_ANTHROPIC_BASE_URL=fake.base_url,
        ANTHROPIC_API_KEY="server-anthropic",
        SECOND_KEY="second-key",
        LUTHIEN_LOG_LEVEL="warning",
    )
    process = start_serve(serve_processes, [], env)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(process, f"{base}/health")

    rejected = httpx.post(f"{base}/v1/messages", json={"model": "m", "max_tokens": 1, "messages": []})
    chat = httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": "llama3", "messages": []},
        headers={"authorization": "Bearer proxy-key"},
    )
    message = httpx.post(
        f"{base}/v1/messages",
        json={"model": "claude-sonnet-4-6", "max_tokens": 1, "messages": []},
        headers={"x-api-key": "proxy-key"},
    )

    assert rejected.status_code == 401
    assert chat.status_code == message.status_code == 200
    assert [
        (request.path, request.headers.get("authorization"), request.headers.get("x-api-key"))
        for request in fake.requests
    ] == [
        ("/v1/chat/completions", "Bearer second-key", None),
        ("/v1/messages", None, "server-anthropic"),
    ]
    returncode, stderr = stop(process)
    assert returncode == CLEAN_EXIT
    assert "Traceback" not in stderr
