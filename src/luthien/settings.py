"""Process settings: every environment variable Luthien reads, in one pydantic-settings class.

The README settings table and `.env.example` are generated from this class
(`luthien settings-docs --write`); a test fails when they drift.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from luthien.ratelimit.items import parse_limits

MAX_SERIALIZABLE_JSON_DEPTH = 254
"""Deepest nesting orjson serializes: a request Luthien accepts must be writable again (records,
a policy's changed request)."""

NO_DROPPED_TOOL_TYPES = "none"
"""`LUTHIEN_TRANSLATION_DROPPED_TOOL_TYPES` that drops no tool (an empty variable means the default)."""


class AuthMode(StrEnum):
    """How clients authenticate and which credentials reach the upstream.

    Attributes:
        PROXY: clients present `LUTHIEN_API_KEY`; the server's provider key is sent upstream.
        PASSTHROUGH: the client's own provider credentials (API key or OAuth bearer) are forwarded.
        BOTH: a client presenting the proxy key gets the server's key; any other client's
            credentials are forwarded.
    """

    PROXY = "proxy"
    PASSTHROUGH = "passthrough"
    BOTH = "both"


class Settings(BaseSettings):
    """All process settings. Field descriptions are the documentation users read."""

    model_config = SettingsConfigDict(
        env_prefix="LUTHIEN_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    host: str = Field(default="127.0.0.1", description="Interface the server binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port the server listens on.")
    config: Path | None = Field(
        default=None,
        description="Path to the YAML config file (upstreams, routes). Unset: built-in defaults.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Proxy key clients must present (`Authorization: Bearer` or `x-api-key`)."
    )
    auth_mode: AuthMode | None = Field(
        default=None,
        description="`proxy`, `passthrough` or `both`. Unset: `proxy` when LUTHIEN_API_KEY is set, "
        "else `passthrough`.",
    )
    anthropic_base_url: str = Field(
        default="https://api.anthropic.com", description="Base URL of the built-in `anthropic` upstream."
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1", description="Base URL of the built-in `openai` upstream."
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY"),
        description="Provider key sent to the `anthropic` upstream in proxy mode.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY"),
        description="Provider key sent to the `openai` upstream in proxy mode.",
    )
    translation_default_max_tokens: int = Field(
        default=8192,
        ge=1,
        description="`max_tokens` sent to an Anthropic upstream when a translated Chat or Responses "
        "call sets no output limit (Anthropic requires one). 8192 is the largest output every Claude "
        "model since 3.5 accepts: a larger value would be refused by the smaller ones.",
    )
    translation_dropped_tool_types: str = Field(
        default="web_search",
        description="Built-in tool types (a tool's `type`) left out of a translated call, logged at debug, "
        "instead of refused with a 400: the model then simply does not have them. Comma-separated; "
        "`none`: every built-in tool is refused. Codex offers `web_search`, which no other API has, on "
        "every request.",
    )
    upstream_connect_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to establish a connection to an upstream before answering 504.",
    )
    upstream_read_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="Seconds an upstream may stay silent (before its first byte, or between chunks) "
        "before the call fails with a timeout; the default of the first-byte and idle timeouts.",
    )
    upstream_first_byte_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Seconds from sending a request until the upstream's first body byte (covers "
        "thinking before a non-streaming answer). Unset: LUTHIEN_UPSTREAM_READ_TIMEOUT_S. "
        "Per route or upstream: `timeouts:` in the config.",
    )
    upstream_idle_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Seconds an upstream may stay silent between two body chunks. "
        "Unset: LUTHIEN_UPSTREAM_READ_TIMEOUT_S. Per route or upstream: `timeouts:` in the config.",
    )
    upstream_max_connections: int = Field(
        default=1000, ge=1, description="Maximum concurrent connections to all upstreams together."
    )
    max_request_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Largest request body accepted; larger bodies get 413."
    )
    max_messages: int = Field(
        default=10_000,
        ge=1,
        description="Most messages (Anthropic, Chat) or input items (Responses) in one call; more get 400.",
    )
    max_json_depth: int = Field(
        default=128,
        ge=2,
        le=MAX_SERIALIZABLE_JSON_DEPTH,
        description="Deepest nesting of objects and arrays in a request body; deeper bodies get 400.",
    )
    max_held_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Bytes a policy may hold back per stream (e.g. tool-call arguments awaiting a judge). "
        "Past it the held block is treated as the policy declares (`on_held_overflow`): blocked by default.",
    )
    max_concurrent_calls: int = Field(
        default=0,
        ge=0,
        description="Model calls served at once by this process; further calls get an overload answer "
        "(Anthropic 529, OpenAI 503) with `Retry-After`. 0: no limit.",
    )
    shadow_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a shadow policy may still run after its call ended; past it the shadow is "
        "stopped and recorded as `error` (`shadow.timeout`). The client never waits for a shadow.",
    )
    shadow_max_queued_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Bytes of upstream response queued for one shadow policy in one call; a shadow that "
        "falls further behind is dropped for that call (`shadow.overflow`).",
    )
    max_record_response_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Bytes of each response (as the upstream sent it, and as the client got it) kept for "
        "the record; past it the stored copy is cut and marked truncated. The client still gets everything.",
    )
    keepalive_interval_s: float = Field(
        default=10.0,
        ge=0,
        description="Seconds of silence toward a streaming client, while a policy holds content (a judge "
        "deciding), before a keep-alive is sent (Anthropic `ping`, an SSE comment for OpenAI). 0: never.",
    )
    test_policy: str | None = Field(
        default=None,
        description="Name of a policy to activate instead of the config's `policy` (tests, experiments).",
    )
    allow_policy_header: bool = Field(
        default=False,
        description="Honour the `X-Luthien-Policy` request header (only names defined in the config).",
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="Key for the admin API and web UI (`Authorization: Bearer`, or the `/ui/login` page). "
        "Unset: only loopback clients may use them. Must differ from LUTHIEN_API_KEY.",
    )
    admin_session_hours: float = Field(
        default=12.0, gt=0, description="Hours a web UI login lasts before the key is asked again."
    )
    activity_keepalive_s: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between keep-alive comments on an idle `/api/activity/stream` connection.",
    )
    workers: int | Literal["auto"] = Field(
        default=1,
        description="Worker processes `luthien serve` runs on one port (`auto`: one per CPU core). With "
        "more than one, the workers share the activity monitor, policy switches and rate limits through "
        "Redis when `LUTHIEN_REDIS_URL` is set, else through the parent process (Linux: `SO_REUSEPORT`).",
    )
    shutdown_grace_s: int = Field(
        default=30,
        ge=1,
        description="Seconds calls in flight may take to finish after SIGTERM/SIGINT (new connections "
        "are refused meanwhile); calls still running then are cut. Records are then written and the "
        "process exits 0.",
    )
    log_level: str = Field(default="info", description="Log level: debug, info, warning or error.")
    # -- records storage (luthien.storage) --
    records: bool = Field(
        default=True,
        description="Record every model call (`on`/`off`). Off: nothing is stored and no database is opened.",
    )
    database_url: str = Field(
        default="sqlite:///luthien.db",
        description="Where records are stored: `sqlite:///path` (default: `luthien.db` in the working "
        "directory), `sqlite:///:memory:`, or `postgresql://user:pass@host/db`. "
        "Luthien picks the async driver.",
    )
    database_pool_size: int = Field(
        default=5, ge=1, description="Connections kept open to PostgreSQL (SQLite uses one writer)."
    )
    database_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to connect to the database, and to wait for a SQLite lock, "
        "before an attempt fails.",
    )
    record_queue_size: int = Field(
        default=10_000,
        ge=1,
        description="Records waiting to be written; beyond this, new records are dropped "
        "(counted and logged).",
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        description="Delete records older than this many days, in the background. 0: keep forever.",
    )
    # Live events (luthien.events): the activity monitor's feed.
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL (`redis://host:6379/0`) for live events shared by every replica "
        "(a Redis stream). Unset: in-process events, seen by this replica's monitors only.",
    )
    events_retention: int = Field(
        default=10_000,
        ge=1,
        description="Live events kept for monitors that reconnect with `Last-Event-ID` (in Redis: about "
        "this many).",
    )
    events_stream_key: str = Field(
        default="luthien:events",
        min_length=1,
        description="Key of the Redis stream that carries live events; replicas sharing it share events.",
    )

    # Rate limits (luthien.ratelimit) and circuit breakers (luthien.upstream.breaker).
    rate_limit: str | None = Field(
        default=None,
        description="Requests each client may make, per client key (hashed; the client's address "
        "when it presents none), e.g. `60/minute;1000/hour`. Unset: no limit. Shared by replicas "
        "through LUTHIEN_REDIS_URL.",
    )
    daily_token_budget: int | None = Field(
        default=None,
        ge=1,
        description="Input plus output tokens each client key may use per UTC day, from the usage "
        "upstreams report; past it, calls get 429 until midnight UTC. Unset: no budget.",
    )
    rate_limit_key_prefix: str = Field(
        default="luthien:ratelimit",
        min_length=1,
        description="Prefix of the rate-limit counters in Redis; replicas sharing it share limits.",
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive upstream failures (5xx, connection errors, timeouts) that open its "
        "circuit breaker: calls then fail fast with 503.",
    )
    breaker_cooldown_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an open circuit breaker waits before letting one trial call through.",
    )

    @field_validator("translation_dropped_tool_types")
    @classmethod
    def _tool_type_list(cls, value: str) -> str:
        types = [name.strip() for name in value.split(",") if name.strip()]
        if any(name.lower() == NO_DROPPED_TOOL_TYPES for name in types):
            if len(types) > 1:
                raise ValueError(
                    f"LUTHIEN_TRANSLATION_DROPPED_TOOL_TYPES: `{NO_DROPPED_TOOL_TYPES}` stands alone"
                )
            return NO_DROPPED_TOOL_TYPES
        return ",".join(types) or NO_DROPPED_TOOL_TYPES

    @property
    def dropped_tool_types(self) -> frozenset[str]:
        """The built-in tool types a translated call leaves out (`translation_dropped_tool_types`)."""
        if self.translation_dropped_tool_types == NO_DROPPED_TOOL_TYPES:
            return frozenset()
        return frozenset(self.translation_dropped_tool_types.split(","))

    @field_validator("workers")
    @classmethod
    def _workers_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("LUTHIEN_WORKERS must be at least 1 (or `auto`)")
        return value

    @property
    def worker_count(self) -> int:
        """How many worker processes to run: `workers`, with `auto` resolved to the CPU count."""
        if self.workers == "auto":
            return os.cpu_count() or 1
        return self.workers

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limits(value)  # ValueError names the text that does not parse
        return value

    # Observability (luthien.observability): metrics and tracing.
    metrics_max_models: int = Field(
        default=50,
        ge=1,
        description="Distinct model names that get their own label in `/metrics`; calls for any further "
        "model (names come from clients) are counted as `other`.",
    )
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP receiver for OpenTelemetry traces (`http://collector:4318`; `/v1/traces` is "
        "appended). Unset: tracing is off.",
    )
    otel_service_name: str = Field(
        default="luthien", min_length=1, description="`service.name` of the exported traces."
    )
    judge_input_usd_per_mtok: float = Field(
        default=3.0,
        ge=0,
        description="Price of a million judge input tokens in US dollars, for `luthien replay`'s cost "
        "estimate.",
    )
    judge_output_usd_per_mtok: float = Field(
        default=15.0,
        ge=0,
        description="Price of a million judge output tokens in US dollars, for `luthien replay`'s cost "
        "estimate.",
    )

    @model_validator(mode="after")
    def _proxy_mode_needs_key(self) -> Settings:
        if self.api_key is not None and not self.api_key.get_secret_value():
            # An empty key would make an empty credential valid.
            self.api_key = None
        mode = self.auth_mode
        if mode is not None and mode is not AuthMode.PASSTHROUGH and self.api_key is None:
            raise ValueError(f"LUTHIEN_AUTH_MODE={mode.value} requires LUTHIEN_API_KEY")
        return self

    @model_validator(mode="after")
    def _admin_key_is_its_own(self) -> Settings:
        if self.admin_key is not None and not self.admin_key.get_secret_value():
            self.admin_key = None  # an empty key would make an empty credential valid
        if (
            self.admin_key is not None
            and self.api_key is not None
            and self.admin_key.get_secret_value() == self.api_key.get_secret_value()
        ):
            # Every client holds the proxy key; it must never open the admin side.
            raise ValueError("LUTHIEN_ADMIN_KEY must differ from LUTHIEN_API_KEY")
        return self

    @property
    def effective_auth_mode(self) -> AuthMode:
        """The auth mode in force, after applying the default."""
        if self.auth_mode is not None:
            return self.auth_mode
        return AuthMode.PROXY if self.api_key is not None else AuthMode.PASSTHROUGH
