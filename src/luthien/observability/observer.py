"""`GatewayObserver`: the `CallObserver` the gateway hands every recorder (metrics, then tracing)."""

from __future__ import annotations

from luthien.observability.metrics import Metrics
from luthien.observability.tracing import Tracing, annotate_call
from luthien.records.observer import FinishedCall


class GatewayObserver:
    """Feeds each call to the metrics and, when tracing is on, to its call span."""

    def __init__(self, metrics: Metrics, tracing: Tracing) -> None:
        self.metrics = metrics
        self._traced = tracing.enabled

    def call_started(self, endpoint: str) -> None:
        """See `CallObserver.call_started`."""
        self.metrics.call_started(endpoint)

    def stream_started(self, endpoint: str) -> None:
        """See `CallObserver.stream_started`."""
        self.metrics.stream_started(endpoint)

    def call_finished(self, call: FinishedCall) -> None:
        """See `CallObserver.call_finished`."""
        self.metrics.call_finished(call)
        if self._traced:
            annotate_call(call)
