"""`GET /metrics`: the Prometheus text format, behind the same admission as the admin API.

With `LUTHIEN_ADMIN_KEY` set, a scraper sends `Authorization: Bearer <admin key>` (Prometheus:
`authorization: {credentials: ...}` in the scrape config); without it only loopback clients are
served. Refusals are the admin API's JSON errors (401 or 403). See docs/security.md.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from luthien.admin.access import AdminAccess, Denial
from luthien.admin.routes import ApiSurface
from luthien.observability.metrics import Metrics

METRICS_PATH = "/metrics"


class MetricsEndpoint:
    """Serves one app's `Metrics` to admitted callers."""

    def __init__(self, metrics: Metrics, access: AdminAccess) -> None:
        self.metrics = metrics
        self.access = access
        self._surface = ApiSurface()

    async def respond(self, request: Request) -> Response:
        """The exposition, or the admin API's refusal."""
        admitted = self.access.authenticate(request)
        if isinstance(admitted, Denial):
            return self._surface.denied(request, admitted)
        return Response(
            self.metrics.exposition(),
            media_type=CONTENT_TYPE_LATEST,
            headers={"cache-control": "no-store"},
        )
