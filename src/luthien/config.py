"""The YAML config file (`LUTHIEN_CONFIG`): named upstreams and model routes, validated by pydantic.

Example:
    ```yaml
    policy: guarded
    shadow: [judge]          # also run on every call; only recorded, never sent
    policies:
      guarded:
        class: chain
        config: {policies: [no_secrets, judge]}
      no_secrets:
        class: string_replace
        config: {replacements: [{find: "sk-[A-Za-z0-9]+", replace: "[key]", regex: true}]}
    upstreams:
      local:                 # Ollama, vLLM, llama.cpp: Chat Completions only
        format: openai-chat
        base_url: http://127.0.0.1:11434/v1
      work:
        format: anthropic
        base_url: https://api.anthropic.com
        api_key_env: WORK_ANTHROPIC_KEY
      personal:
        format: anthropic
        base_url: https://api.anthropic.com
        api_key_env: PERSONAL_ANTHROPIC_KEY
    routes:
      - model: "llama*"
        upstream: local
      - model: "o3*"                  # reasoning models think for minutes before the first byte
        upstream: openai
        timeouts: {first_byte_s: 900, idle_s: 300}
      - model: "claude-*"
        upstream: work
        rate_limit: 100/minute   # each claude model, all clients together
        fallback: personal       # while work's circuit breaker is open
    ```
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from luthien.ratelimit.items import parse_limits
from luthien.settings import Settings
from luthien.wire.formats import WireFormat


class UpstreamApi(StrEnum):
    """Which APIs an upstream serves (the YAML key is `format`).

    Attributes:
        ANTHROPIC: Anthropic Messages (with `count_tokens`).
        OPENAI: OpenAI Chat Completions and Responses, as OpenAI serves both.
        OPENAI_CHAT: Chat Completions only: vLLM, Ollama, llama.cpp, LM Studio and most local
            servers. It speaks the OpenAI dialect (Bearer auth, OpenAI error shape).
    """

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENAI_CHAT = "openai-chat"

    @property
    def dialect(self) -> WireFormat:
        """The provider dialect: how it authenticates and answers errors."""
        return WireFormat.ANTHROPIC if self is UpstreamApi.ANTHROPIC else WireFormat.OPENAI


class TimeoutsConfig(BaseModel):
    """Upstream timeouts for an upstream or a route; each unset one falls back to the next level.

    A route's values win over its upstream's, which win over the global settings
    (`LUTHIEN_UPSTREAM_CONNECT_TIMEOUT_S`, `..._FIRST_BYTE_TIMEOUT_S`, `..._IDLE_TIMEOUT_S`).
    """

    model_config = ConfigDict(extra="forbid")

    connect_s: float | None = Field(default=None, gt=0, description="Seconds to connect.")
    first_byte_s: float | None = Field(
        default=None, gt=0, description="Seconds from sending the request to the first body byte."
    )
    idle_s: float | None = Field(default=None, gt=0, description="Seconds of silence between body chunks.")


class UpstreamConfig(BaseModel):
    """One model provider Luthien can forward to."""

    model_config = ConfigDict(extra="forbid")

    format: UpstreamApi = Field(
        description="The APIs it serves: `anthropic`, `openai` (Chat and Responses) or `openai-chat`."
    )
    base_url: str = Field(pattern=r"^https?://")
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    timeouts: TimeoutsConfig | None = None
    max_output_tokens: int | None = Field(
        default=None,
        ge=1,
        description="The most output tokens a request to this upstream may ask for: a larger limit "
        "(Claude Code asks for 64000) is lowered to it (`luthien.upstream.output_cap`). Unset: no cap.",
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> UpstreamConfig:
        if self.api_key is not None and self.api_key_env is not None:
            raise ValueError("give either api_key or api_key_env, not both")
        return self

    def resolved_api_key(self) -> str | None:
        """The provider key to send upstream in proxy mode, if one is configured."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env is not None:
            return os.environ.get(self.api_key_env) or None
        return None


class RouteConfig(BaseModel):
    """Send calls whose model matches the glob `model` to the upstream named `upstream`.

    Attributes:
        rate_limit: requests per window to each model matching `model`, all clients together
            (e.g. `100/minute;2000/hour`); refused calls get 429.
        fallback: an upstream of the same dialect (`openai` and `openai-chat` mix) that serves
            the route while `upstream`'s circuit breaker is open.
    """

    model_config = ConfigDict(extra="forbid")

    model: str
    upstream: str
    rate_limit: str | None = None
    fallback: str | None = None
    timeouts: TimeoutsConfig | None = None

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limits(value)
        return value


class PolicyEntry(BaseModel):
    """A named policy instance: `class` is a registered short name or `module:Class`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    class_name: str = Field(alias="class")
    config: dict[str, Any] = Field(default_factory=dict[str, Any])


class LuthienConfig(BaseModel):
    """The whole config file."""

    model_config = ConfigDict(extra="forbid")

    upstreams: dict[str, UpstreamConfig] = Field(default_factory=dict[str, UpstreamConfig])
    routes: list[RouteConfig] = Field(default_factory=list[RouteConfig])
    policies: dict[str, PolicyEntry] = Field(default_factory=dict[str, PolicyEntry])
    policy: str | None = Field(default=None, description="Name of the active policy.")
    allow_unchecked: list[str] = Field(
        default_factory=list[str],
        description="Endpoint paths (as docs/security.md lists them) served even while the active "
        "policy inspects responses, although no policy can check their answers.",
    )

    @field_validator("allow_unchecked")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"{path!r}: an endpoint path starts with '/'")
        return paths

    shadow: list[str] = Field(
        default_factory=list[str],
        description="Policy instances run in shadow: what each would send is only recorded.",
    )

    def with_builtins(self, settings: Settings) -> LuthienConfig:
        """Return a copy where the built-in `anthropic` and `openai` upstreams exist.

        A config entry with the same name replaces the built-in one.
        """
        builtins = {
            WireFormat.ANTHROPIC.value: UpstreamConfig(
                format=UpstreamApi.ANTHROPIC,
                base_url=settings.anthropic_base_url,
                api_key=settings.anthropic_api_key,
            ),
            WireFormat.OPENAI.value: UpstreamConfig(
                format=UpstreamApi.OPENAI,
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key,
            ),
        }
        return self.model_copy(update={"upstreams": {**builtins, **self.upstreams}})

    @model_validator(mode="after")
    def _routes_name_upstreams(self) -> LuthienConfig:
        formats = {f.value: f for f in WireFormat} | {
            name: upstream.format.dialect for name, upstream in self.upstreams.items()
        }
        for index, route in enumerate(self.routes):
            if route.upstream not in formats:
                raise ValueError(f"routes[{index}].upstream: unknown upstream {route.upstream!r}")
            if route.fallback is None:
                continue
            if route.fallback not in formats:
                raise ValueError(f"routes[{index}].fallback: unknown upstream {route.fallback!r}")
            fallback_format, primary_format = formats[route.fallback], formats[route.upstream]
            if fallback_format is not primary_format:
                raise ValueError(
                    f"routes[{index}].fallback: upstream {route.fallback!r} speaks {fallback_format.value}, "
                    f"{route.upstream!r} speaks {primary_format.value}"
                )
        return self


class ConfigError(Exception):
    """The config file is missing, not YAML, or invalid. `str()` names the offending field.

    Attributes:
        problem: what is wrong, as a stable code (`unknown_policy`, `module_not_found`,
            `import_failed`, `syntax_error`, `missing_class`, `not_a_policy`, `constructor_failed`,
            `invalid_config`, `chain_cycle`), or None for other errors.
        entry: the `policies` entry at fault, if any.
        field: the dotted path of the offending field, if known.
        suggestion: the likely intended name ("did you mean"), if one is close.
        detail: the message without the suggestion (to wrap in another error's message).
    """

    def __init__(
        self,
        message: str,
        *,
        problem: str | None = None,
        entry: str | None = None,
        field: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.detail = message
        if suggestion is not None:
            message = f"{message} (did you mean {suggestion!r}?)"
        super().__init__(message)
        self.problem = problem
        self.entry = entry
        self.field = field
        self.suggestion = suggestion


def _message(item: Any) -> str:
    # A ValueError raised in a validator reads "Value error, <text>": the prefix says nothing.
    if item["type"] == "value_error" and "error" in item.get("ctx", {}):
        return str(item["ctx"]["error"])
    return str(item["msg"])


def validation_error_fields(error: ValidationError, prefix: str = "") -> list[str]:
    """The dotted path of each field an error names."""
    return [
        ".".join(str(part) for part in (prefix, *item["loc"]) if part != "") or "<root>"
        for item in error.errors()
    ]


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming the field by its dotted path."""
    return "; ".join(
        f"{field}: {_message(item)}"
        for field, item in zip(validation_error_fields(error, prefix), error.errors(), strict=True)
    )


def load_config(path: Path | None) -> LuthienConfig:
    """Read and validate the config file; no path means an empty config.

    Raises:
        ConfigError: the file cannot be read or fails validation.
    """
    if path is None:
        return LuthienConfig()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: config file is not UTF-8 text") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    try:
        return LuthienConfig.model_validate({} if raw is None else raw)
    except ValidationError as error:
        raise ConfigError(
            f"{path}: invalid config: {describe_validation_error(error)}",
            problem="invalid_config",
            field=validation_error_fields(error)[0],
        ) from error
