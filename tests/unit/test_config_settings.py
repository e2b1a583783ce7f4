"""The YAML config file and the environment settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from luthien import settings_docs
from luthien.config import ConfigError, LuthienConfig, UpstreamApi, UpstreamConfig, load_config
from luthien.settings import AuthMode, Settings

_ENV_NAMES = [settings_docs.env_name(name, field) for name, field in Settings.model_fields.items()]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from the developer's environment leaks into these tests."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "luthien.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- load_config --------------------------------------------------------------------------------

VALID = """
upstreams:
  local:
    format: openai
    base_url: http://127.0.0.1:11434/v1
  work:
    format: anthropic
    base_url: https://api.anthropic.com
    api_key_env: WORK_ANTHROPIC_KEY
routes:
  - model: "llama*"
    upstream: local
  - model: "claude-*"
    upstream: work
  - model: "gpt-*"
    upstream: openai
"""


def test_load_config_none_is_empty() -> None:
    config = load_config(None)

    assert config.upstreams == {}
    assert config.routes == []


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_load_config_empty_file_is_empty_config(tmp_path: Path, text: str) -> None:
    config = load_config(write(tmp_path, text))

    assert config.upstreams == {}
    assert config.routes == []


def test_load_config_valid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))

    assert list(config.upstreams) == ["local", "work"]
    assert config.upstreams["local"].format is UpstreamApi.OPENAI
    assert config.upstreams["local"].base_url == "http://127.0.0.1:11434/v1"
    assert config.upstreams["work"].api_key_env == "WORK_ANTHROPIC_KEY"
    assert [(route.model, route.upstream) for route in config.routes] == [
        ("llama*", "local"),
        ("claude-*", "work"),
        ("gpt-*", "openai"),
    ]


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path / "absent.yaml")


def test_load_config_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("upstreams: [unclosed\n", id="unclosed-flow"),
        pytest.param("upstreams:\n  a: 1\n b: 2\n", id="bad-indent"),
        pytest.param("key: 'unterminated\n", id="unterminated-quote"),
        pytest.param("\tupstreams: {}\n", id="tab"),
    ],
)
def test_load_config_invalid_yaml(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("unknown: 1\n", id="unknown-top-level"),
        pytest.param(
            "upstreams:\n  a:\n    format: openai\n    base_url: http://x\n    timeout: 3\n",
            id="unknown-upstream-field",
        ),
        pytest.param(
            "routes:\n  - model: x\n    upstream: openai\n    weight: 1\n", id="unknown-route-field"
        ),
        pytest.param("routes:\n  - model: x\n    upstream: nowhere\n", id="route-unknown-upstream"),
        pytest.param(
            "upstreams:\n  a:\n    format: openai\n    base_url: http://x\n"
            "routes:\n  - model: x\n    upstream: b\n",
            id="route-unknown-upstream-with-upstreams",
        ),
        pytest.param(
            "upstreams:\n  a:\n    format: openai\n    base_url: http://x\n"
            "    api_key: k\n    api_key_env: K\n",
            id="both-key-sources",
        ),
        pytest.param("upstreams:\n  a:\n    format: gemini\n    base_url: http://x\n", id="bad-format"),
        pytest.param("upstreams:\n  a:\n    format: openai\n    base_url: ftp://x\n", id="bad-scheme"),
        pytest.param("upstreams:\n  a:\n    base_url: http://x\n", id="missing-format"),
        pytest.param("upstreams:\n  a:\n    format: openai\n", id="missing-base-url"),
        pytest.param("routes:\n  - model: x\n", id="route-missing-upstream"),
        pytest.param("- a\n- b\n", id="top-level-list"),
        pytest.param("just a string\n", id="top-level-string"),
        pytest.param("upstreams: 3\n", id="upstreams-not-mapping"),
        pytest.param("routes: {}\n", id="routes-not-list"),
    ],
)
def test_load_config_invalid_content(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, text))


def test_load_config_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "luthien.yaml"
    path.write_bytes(b"upstreams: {}\n# caf\xe9\n")

    with pytest.raises(ConfigError):
        load_config(path)


def test_config_error_is_not_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "unknown: 1\n"))

    assert not isinstance(caught.value, ValidationError)
    assert isinstance(caught.value.__cause__, ValidationError)


# --- api keys -----------------------------------------------------------------------------------


def test_api_key_env_is_resolved_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORK_ANTHROPIC_KEY", raising=False)
    upstream = load_config(write(tmp_path, VALID)).upstreams["work"]

    assert upstream.resolved_api_key() is None
    monkeypatch.setenv("WORK_ANTHROPIC_KEY", "sk-work")
    assert upstream.resolved_api_key() == "sk-work"


def test_api_key_env_empty_value_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPTY_KEY", "")
    upstream = UpstreamConfig(format=UpstreamApi.OPENAI, base_url="http://x", api_key_env="EMPTY_KEY")

    assert upstream.resolved_api_key() is None


def test_inline_api_key(tmp_path: Path) -> None:
    text = "upstreams:\n  a:\n    format: openai\n    base_url: http://x\n    api_key: sk-inline\n"
    upstream = load_config(write(tmp_path, text)).upstreams["a"]

    assert upstream.resolved_api_key() == "sk-inline"
    assert "sk-inline" not in repr(upstream)


def test_no_api_key() -> None:
    assert UpstreamConfig(format=UpstreamApi.OPENAI, base_url="https://x").resolved_api_key() is None


def test_both_key_sources_rejected_directly() -> None:
    with pytest.raises(ValidationError):
        UpstreamConfig(
            format=UpstreamApi.OPENAI, base_url="https://x", api_key=SecretStr("k"), api_key_env="K"
        )


# --- with_builtins ------------------------------------------------------------------------------


def test_with_builtins_adds_anthropic_and_openai_from_settings() -> None:
    settings = Settings.model_validate(
        {
            "anthropic_base_url": "http://anthropic.test",
            "openai_base_url": "http://openai.test/v1",
            "anthropic_api_key": "sk-ant",
            "openai_api_key": "sk-oai",
        }
    )

    config = LuthienConfig().with_builtins(settings)

    anthropic = config.upstreams["anthropic"]
    openai = config.upstreams["openai"]
    assert (anthropic.format, anthropic.base_url, anthropic.resolved_api_key()) == (
        UpstreamApi.ANTHROPIC,
        "http://anthropic.test",
        "sk-ant",
    )
    assert (openai.format, openai.base_url, openai.resolved_api_key()) == (
        UpstreamApi.OPENAI,
        "http://openai.test/v1",
        "sk-oai",
    )


def test_with_builtins_config_entry_overrides_builtin(tmp_path: Path) -> None:
    text = (
        "upstreams:\n"
        "  anthropic:\n    format: anthropic\n    base_url: https://gateway.example\n    api_key_env: GW\n"
        "  extra:\n    format: openai\n    base_url: http://x\n"
        "routes:\n  - model: '*'\n    upstream: extra\n"
    )
    original = load_config(write(tmp_path, text))

    config = original.with_builtins(Settings.model_validate({"anthropic_api_key": "sk-builtin"}))

    assert set(config.upstreams) == {"anthropic", "openai", "extra"}
    assert config.upstreams["anthropic"].base_url == "https://gateway.example"
    assert config.upstreams["anthropic"].api_key_env == "GW"
    assert config.upstreams["anthropic"].api_key is None
    assert config.upstreams["openai"].base_url == Settings().openai_base_url
    assert config.routes == original.routes
    assert "openai" not in original.upstreams


def test_route_to_builtin_name_is_valid_without_declaring_it() -> None:
    config = LuthienConfig.model_validate({"routes": [{"model": "x", "upstream": "anthropic"}]})

    assert config.routes[0].upstream == "anthropic"


# --- Settings -----------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = Settings()

    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.config is None
    assert settings.api_key is None
    assert settings.auth_mode is None
    assert settings.effective_auth_mode is AuthMode.PASSTHROUGH
    assert settings.anthropic_api_key is None
    assert settings.openai_api_key is None


@pytest.mark.parametrize("mode", [AuthMode.PROXY, AuthMode.BOTH])
def test_key_requiring_mode_without_api_key_is_invalid(mode: AuthMode) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"auth_mode": mode})


@pytest.mark.parametrize("mode", ["proxy", "both"])
def test_key_requiring_mode_from_env_without_api_key_is_invalid(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("LUTHIEN_AUTH_MODE", mode)

    with pytest.raises(ValidationError):
        Settings()


def test_passthrough_mode_without_api_key_is_valid() -> None:
    settings = Settings.model_validate({"auth_mode": "passthrough"})

    assert settings.effective_auth_mode is AuthMode.PASSTHROUGH


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, AuthMode.PASSTHROUGH),
        ({"api_key": "k"}, AuthMode.PROXY),
        ({"api_key": "k", "auth_mode": "both"}, AuthMode.BOTH),
        ({"api_key": "k", "auth_mode": "passthrough"}, AuthMode.PASSTHROUGH),
        ({"api_key": "k", "auth_mode": "proxy"}, AuthMode.PROXY),
    ],
)
def test_effective_auth_mode(values: dict[str, Any], expected: AuthMode) -> None:
    assert Settings.model_validate(values).effective_auth_mode is expected


def test_invalid_auth_mode_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"auth_mode": "open"})


def test_settings_read_from_luthien_prefixed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUTHIEN_PORT", "9123")
    monkeypatch.setenv("LUTHIEN_API_KEY", "proxy-key")
    monkeypatch.setenv("LUTHIEN_AUTH_MODE", "both")
    monkeypatch.setenv("LUTHIEN_CONFIG", "/etc/luthien.yaml")

    settings = Settings()

    assert settings.port == 9123
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "proxy-key"
    assert settings.effective_auth_mode is AuthMode.BOTH
    assert settings.config == Path("/etc/luthien.yaml")
    assert "proxy-key" not in repr(settings)


def test_provider_keys_read_from_unprefixed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-oai")

    settings = Settings()

    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-oai"
    assert settings.effective_auth_mode is AuthMode.PASSTHROUGH


def test_provider_keys_by_field_name() -> None:
    settings = Settings.model_validate({"anthropic_api_key": "sk-ant"})

    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LUTHIEN_PORT", "70000"),
        ("LUTHIEN_PORT", "-1"),
        ("LUTHIEN_PORT", "eighty"),
        ("LUTHIEN_UPSTREAM_CONNECT_TIMEOUT_S", "0"),
        ("LUTHIEN_UPSTREAM_READ_TIMEOUT_S", "-5"),
        ("LUTHIEN_UPSTREAM_MAX_CONNECTIONS", "0"),
        ("LUTHIEN_MAX_REQUEST_BYTES", "100"),
    ],
)
def test_out_of_range_env_values_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        Settings()


def test_env_example_assignments_give_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading `.env.example` as an env file (every assignment, commented or not) changes nothing."""
    for line in settings_docs.env_example().splitlines():
        assignment = line.removeprefix("# ")
        name, sep, value = assignment.partition("=")
        if sep and name in _ENV_NAMES:
            monkeypatch.setenv(name, value)

    settings = Settings()

    defaults = {
        name: field.get_default(call_default_factory=True) for name, field in Settings.model_fields.items()
    }
    assert settings.model_dump() == defaults
    assert settings.effective_auth_mode is AuthMode.PASSTHROUGH


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert settings_docs.env_name(name, field) in settings_docs.env_example()
        assert f"`{settings_docs.env_name(name, field)}`" in settings_docs.markdown_table()


# --- translation: built-in tools dropped, the upstream's output cap -----------------------------


def test_codexs_web_search_is_dropped_by_default() -> None:
    assert Settings().dropped_tool_types == frozenset({"web_search"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("none", frozenset[str]()),
        ("None", frozenset[str]()),
        ("", frozenset[str]()),
        (" web_search , image_generation,", frozenset({"web_search", "image_generation"})),
    ],
)
def test_dropped_tool_types_are_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: frozenset[str]
) -> None:
    monkeypatch.setenv("LUTHIEN_TRANSLATION_DROPPED_TOOL_TYPES", value)

    from_env = Settings()
    given = Settings.model_validate({"translation_dropped_tool_types": value})

    # An empty variable means the default (like every setting); an empty value given directly drops none.
    assert from_env.dropped_tool_types == (expected if value else frozenset({"web_search"}))
    assert given.dropped_tool_types == expected


def test_none_beside_a_tool_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"translation_dropped_tool_types": "none,web_search"})


def test_an_upstreams_output_cap_is_optional_and_positive() -> None:
    assert UpstreamConfig(format=UpstreamApi.OPENAI_CHAT, base_url="http://x").max_output_tokens is None
    capped = LuthienConfig.model_validate(
        {"upstreams": {"local": {"format": "openai-chat", "base_url": "http://x", "max_output_tokens": 4096}}}
    )
    assert capped.upstreams["local"].max_output_tokens == 4096
    with pytest.raises(ValidationError):
        UpstreamConfig(format=UpstreamApi.OPENAI_CHAT, base_url="http://x", max_output_tokens=0)
