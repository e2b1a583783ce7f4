"""Routing: which upstream serves a model. Globs are tried in config order; the first match wins."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from luthien.config import LuthienConfig, RouteConfig, UpstreamConfig, WireFormat


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


class Router:
    """Maps a model name to an upstream; without a matching route, the client format's default."""

    def __init__(self, config: LuthienConfig) -> None:
        self._upstreams = {name: Upstream(name, upstream) for name, upstream in config.upstreams.items()}
        self._routes = [(route.model, route.upstream) for route in config.routes]
        self._route_configs = list(config.routes)

    def resolve(self, model: str, client_format: WireFormat) -> Upstream:
        """The upstream for `model`; the built-in one named after the client's format otherwise."""
        for pattern, name in self._routes:
            if fnmatchcase(model, pattern):
                return self._upstreams[name]
        return self._upstreams[client_format.value]

    def route_for(self, model: str) -> RouteConfig | None:
        """The route `resolve` takes for `model` (the first whose glob matches), if any."""
        return next((route for route in self._route_configs if fnmatchcase(model, route.model)), None)

    def named(self, name: str) -> Upstream | None:
        """The upstream configured under `name`, if any."""
        return self._upstreams.get(name)

    def by_format(self, wire_format: WireFormat) -> list[Upstream]:
        """Every upstream speaking `wire_format`, in config order."""
        return [upstream for upstream in self._upstreams.values() if upstream.format is wire_format]
