"""Routing: which upstream serves a model, and in which API. Globs are tried in order; the first wins.

An upstream serves the APIs its `format` names (`luthien.apis.registry.SERVED_APIS`). A call in an API
the upstream serves goes to it byte-exact; any other is translated to the format's
`TRANSLATION_TARGETS` API.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from limits import RateLimitItem

from luthien.apis.registry import SERVED_APIS, TRANSLATION_TARGETS
from luthien.config import LuthienConfig, TimeoutsConfig, UpstreamApi, UpstreamConfig
from luthien.ratelimit.items import parse_limits
from luthien.wire.apis import WireApi
from luthien.wire.formats import WireFormat


@dataclass(frozen=True, slots=True)
class Upstream:
    """A resolved upstream: its config plus the name it was configured under."""

    name: str
    config: UpstreamConfig

    @property
    def format(self) -> WireFormat:
        """The upstream's dialect: how it authenticates and answers errors."""
        return self.config.format.dialect

    @property
    def api(self) -> UpstreamApi:
        """The APIs the upstream serves, as configured."""
        return self.config.format

    def serves(self, api: WireApi) -> bool:
        """Whether the upstream answers calls in `api` natively (no translation)."""
        return api in SERVED_APIS[self.config.format]

    def api_for(self, client_api: WireApi) -> WireApi:
        """The API a call in `client_api` is sent to this upstream in: its own when served."""
        return client_api if self.serves(client_api) else TRANSLATION_TARGETS[self.config.format]

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

    def routes(self) -> list[Route]:
        """Every configured route, in config order."""
        return list(self._routes)

    def has_rate_limits(self) -> bool:
        """Whether any route sets a per-model rate limit."""
        return any(route.rate_limits for route in self._routes)

    def names(self) -> list[str]:
        """Every upstream's name (built-in ones included), in config order."""
        return list(self._upstreams)

    def by_format(self, wire_format: WireFormat) -> list[Upstream]:
        """Every upstream of the `wire_format` dialect (`openai-chat` ones are OpenAI), in config order."""
        return [upstream for upstream in self._upstreams.values() if upstream.format is wire_format]
