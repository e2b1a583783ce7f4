"""What every endpoint shares for the server's lifetime."""

from __future__ import annotations

from dataclasses import dataclass

from luthien.pipeline.stage import PolicyStage
from luthien.settings import Settings
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router


@dataclass(frozen=True, slots=True)
class GatewayState:
    """Settings, routing, the upstream connection pool and the active policy stage."""

    settings: Settings
    router: Router
    client: UpstreamClient
    stage: PolicyStage


def client_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """ASGI header pairs as strings, names lower-cased (ASGI already lower-cases them)."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
