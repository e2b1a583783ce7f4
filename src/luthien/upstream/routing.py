"""Routing: which upstream serves a model. Globs are tried in config order; the first match wins."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from limits import RateLimitItem

from luthien.config import LuthienConfig, TimeoutsConfig, UpstreamConfig, WireFormat
from luthien.ratelimit.items import parse_limits


@dataclass(frozen=True, slots=True)
class Upstream:
    """A resolved upstream: its config plus the name it was configured under."""

    name: str
    config: UpstreamConfig

    @property
    def format(self) -> WireFormat:
        """The wire format the upstream speaks."""
        return self.config.format

    def url(self, path: str, query: str) -> str:
        """The upstream URL for a client path such as `/v1/messages`.

        A base URL that already ends in `/v1` (the OpenAI SDK convention) is not given a second one.
        """
        base = self.config.base_url.rstrip("/")
        if base.endswith("/v1") and path.startswith("/v1/"):
            path = path[3:]
        return f"{base}{path}?{query}" if query else f"{base}{path}"


@dataclass(frozen=True, slots=True)
class Route:
    """A configured route: model glob, upstream, per-model limits, fallback, and timeouts."""

    pattern: str
    upstream: Upstream
    rate_limits: tuple[RateLimitItem, ...]
    fallback: Upstream | None
    timeouts: TimeoutsConfig | None = None


class Router:
    """Maps a model name to an upstream; without a matching route, the client format's default."""

    def __init__(self, config: LuthienConfig) -> None:
        self._upstreams = {name: Upstream(name, upstream) for name, upstream in config.upstreams.items()}
        self._routes = [
            Route(
                route.model,
                self._upstreams[route.upstream],
                tuple(parse_limits(route.rate_limit)) if route.rate_limit else (),
                self._upstreams[route.fallback] if route.fallback else None,
                route.timeouts,
            )
            for route in config.routes
        ]

    def route(self, model: str) -> Route | None:
        """The first configured route whose glob matches `model`, if any (none without a model)."""
        if not model:
            return None  # a Responses call naming a stored prompt: the format's default upstream
        for route in self._routes:
            if fnmatchcase(model, route.pattern):
                return route
        return None

    def resolve(self, model: str, client_format: WireFormat) -> Upstream:
        """The upstream for `model`; the built-in one named after the client's format otherwise."""
        route = self.route(model)
        return route.upstream if route is not None else self._upstreams[client_format.value]

    def named(self, name: str) -> Upstream | None:
        """The upstream configured under `name`, if any."""
        return self._upstreams.get(name)

    def has_rate_limits(self) -> bool:
        """Whether any route sets a per-model rate limit."""
        return any(route.rate_limits for route in self._routes)

    def names(self) -> list[str]:
        """Every upstream's name (built-in ones included), in config order."""
        return list(self._upstreams)

    def by_format(self, wire_format: WireFormat) -> list[Upstream]:
        """Every upstream speaking `wire_format`, in config order."""
        return [upstream for upstream in self._upstreams.values() if upstream.format is wire_format]
