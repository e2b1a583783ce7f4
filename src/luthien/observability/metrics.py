"""Prometheus metrics: what the gateway counts and measures, fed from each finished call.

Every call reaches `Metrics.call_finished` once, from the recorder (`luthien.records.observer`), with
its record: status, model, upstream, timings, usage and activity events are read from it there,
after the client has its answer. The hot path only moves two gauges (calls and streams in progress).

Label values stay bounded: endpoints, statuses, upstream and policy names come from code or the
config; model names come from clients, so only the first `metrics_max_models` distinct ones get their
own label value and the rest count as `other` (`BoundedLabel`).

Multiprocess: when `PROMETHEUS_MULTIPROC_DIR` is set before the process starts (several uvicorn or
gunicorn workers), prometheus-client keeps every value in files in that directory and `/metrics`
sums them across workers (`MultiProcessCollector`); gauges are summed over live workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, Callable
from enum import IntEnum
from typing import TypeVar, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.metrics import MetricWrapperBase

from luthien.policy.base import BLOCKED_EVENT
from luthien.records.model import TransactionRecord, TransactionStatus
from luthien.records.observer import FinishedCall
from luthien.storage.writer import WriterStats

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
"""The label value of a model beyond the distinct-value limit (or with an overlong name)."""
NONE = "none"
"""The label value when a call had no model or never reached an upstream."""
MAX_LABEL_CHARS = 100
"""Longest model name kept as a label value; longer ones count as `other`."""
REFRESH_INTERVAL_S = 5.0
"""How often the record writer's queue depth and drop count are copied into the metrics."""
JUDGE_DECISION_EVENT = "judge.decision"

CALL_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Whole calls: from a token count (milliseconds) to a reasoning model thinking for minutes."""
FIRST_TOKEN_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
JUDGE_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MS_PER_SECOND = 1000.0
_Metric = TypeVar("_Metric", bound=MetricWrapperBase)
HTTP_ERROR_STATUS = 400
HTTP_GATEWAY_TIMEOUT = 504


class BreakerState(IntEnum):
    """The value of `luthien_upstream_breaker_state`."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class BoundedLabel:
    """Client-controlled label values, capped: the first `limit` distinct values, then `other`."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        """The label value to use for `value`."""
        if value is None:
            return NONE
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit or len(value) > MAX_LABEL_CHARS or value in (OTHER, NONE):
            return OTHER
        self._seen.add(value)
        return value


def multiprocess_dir() -> str | None:
    """The multiprocess directory prometheus-client uses, if any (read once, at its import)."""
    return os.environ.get(MULTIPROCESS_ENV) or None


def upstream_error_kind(call: FinishedCall) -> str | None:
    """How the upstream failed this call, if it did.

    `http_<status>` for an HTTP error answer, `timeout` or `connect` when it never answered,
    `stream` when its stream was cut, went idle or carried an error event. A client that left first
    is not an upstream failure.
    """
    record = call.record
    if record is None or record.upstream is None or record.status is TransactionStatus.CLIENT_DISCONNECTED:
        return None
    if call.upstream_status is None:
        if record.status is not TransactionStatus.ERROR:
            return None
        return "timeout" if record.http_status == HTTP_GATEWAY_TIMEOUT else "connect"
    if call.upstream_status >= HTTP_ERROR_STATUS:
        return f"http_{call.upstream_status}"
    if call.upstream_stream_complete is False:
        return "stream"
    return None


class Metrics:
    """The gateway's metrics, in a registry of their own (one per app)."""

    def __init__(
        self, max_models: int, writer_stats: Callable[[], WriterStats | None] = lambda: None
    ) -> None:
        """Create every metric.

        Args:
            max_models: distinct model names that get their own label value.
            writer_stats: the record writer's counters (None when recording is off).
        """
        self.registry = CollectorRegistry(auto_describe=True)
        self._writer_stats = writer_stats
        self._model = BoundedLabel(max_models)
        self._writer_seen = WriterStats(0, 0, 0, 0, 0, 0)
        # Every label value is bounded (see the module docstring), and so is this cache.
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}
        registry = self.registry
        if multiprocess_dir() is None:
            # The process's CPU, memory and file descriptors (`process_*`), and `python_info`; the
            # multiprocess collector cannot aggregate these across workers.
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        self.calls = Counter(
            "luthien_calls",
            "Model calls by endpoint, model, upstream and status (ok, changed, blocked, error, "
            "client_disconnected).",
            ["endpoint", "model", "upstream", "status"],
            registry=registry,
        )
        self.call_seconds = Histogram(
            "luthien_call_duration_seconds",
            "Call duration, request received to last byte sent.",
            ["endpoint", "model"],
            buckets=CALL_SECONDS_BUCKETS,
            registry=registry,
        )
        self.first_token_seconds = Histogram(
            "luthien_time_to_first_token_seconds",
            "Request received to the first model output sent to the client.",
            ["endpoint", "model"],
            buckets=FIRST_TOKEN_SECONDS_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "luthien_tokens",
            "Tokens the upstreams reported, by kind (input, output, cache_read, cache_creation).",
            ["model", "upstream", "kind"],
            registry=registry,
        )
        self.policy_decisions = Counter(
            "luthien_policy_decisions",
            "Policy decisions (activity events with a verdict), by policy and decision (allow, block).",
            ["policy", "decision"],
            registry=registry,
        )
        self.policy_blocks = Counter(
            "luthien_policy_blocks",
            "Things a policy blocked (policy.blocked events).",
            ["policy"],
            registry=registry,
        )
        self.policy_errors = Counter(
            "luthien_policy_errors",
            "Policy hooks that raised (policy.error events).",
            ["policy"],
            registry=registry,
        )
        self.judge_seconds = Histogram(
            "luthien_judge_duration_seconds",
            "How long each judge verdict took.",
            ["policy"],
            buckets=JUDGE_SECONDS_BUCKETS,
            registry=registry,
        )
        self.judge_failures = Counter(
            "luthien_judge_failures",
            "Judge calls without a verdict (timeout, call_failed, malformed_verdict): the call was blocked.",
            ["policy", "reason"],
            registry=registry,
        )
        self.upstream_errors = Counter(
            "luthien_upstream_errors",
            "Upstream failures by upstream and kind (http_<status>, connect, timeout, stream).",
            ["upstream", "kind"],
            registry=registry,
        )
        self.breaker = Gauge(
            "luthien_upstream_breaker_state",
            "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open.",
            ["upstream"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.calls_in_progress = Gauge(
            "luthien_calls_in_progress",
            "Calls being served.",
            ["endpoint"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.streams_in_progress = Gauge(
            "luthien_streams_in_progress",
            "Streaming responses being sent.",
            ["endpoint"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.record_queue = Gauge(
            "luthien_record_queue_depth",
            "Records waiting to be written to the database.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.records_written = Counter("luthien_records_written", "Records stored.", registry=registry)
        self.records_dropped = Counter(
            "luthien_records_dropped", "Records not stored: the queue was full.", registry=registry
        )
        self.records_failed = Counter(
            "luthien_records_failed", "Records the database rejected as invalid.", registry=registry
        )

    def _child(self, metric: _Metric, *labels: str) -> _Metric:
        """`metric.labels(*labels)`, remembered: prometheus-client's lookup costs a lock and checks."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return cast(_Metric, child)

    # -- fed by the recorder (CallObserver) ---------------------------------------------------------

    def call_started(self, endpoint: str) -> None:
        """See `CallObserver.call_started`."""
        self._child(self.calls_in_progress, endpoint).inc()

    def stream_started(self, endpoint: str) -> None:
        """See `CallObserver.stream_started`."""
        self._child(self.streams_in_progress, endpoint).inc()

    def call_finished(self, call: FinishedCall) -> None:
        """See `CallObserver.call_finished`."""
        self._child(self.calls_in_progress, call.endpoint).dec()
        if call.streamed:
            self._child(self.streams_in_progress, call.endpoint).dec()
        record = call.record
        if record is None:
            return
        model = self._model(record.model)
        upstream = record.upstream or NONE
        self._child(self.calls, call.endpoint, model, upstream, record.status.value).inc()
        duration = record.timing.duration_ms
        if duration is not None:
            self._child(self.call_seconds, call.endpoint, model).observe(duration / MS_PER_SECOND)
        first_token = record.timing.time_to_first_token_ms
        if first_token is not None:
            self._child(self.first_token_seconds, call.endpoint, model).observe(first_token / MS_PER_SECOND)
        self._count_tokens(record, model, upstream)
        self._count_events(record)
        error_kind = upstream_error_kind(call)
        if error_kind is not None:
            self._child(self.upstream_errors, upstream, error_kind).inc()

    def _count_tokens(self, record: TransactionRecord, model: str, upstream: str) -> None:
        usage = record.usage
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_creation", usage.cache_creation_tokens),
        ):
            if count:
                self._child(self.tokens, model, upstream, kind).inc(count)

    def _count_events(self, record: TransactionRecord) -> None:
        for event in record.events:
            policy = event.policy or NONE
            data = event.data
            if event.type == BLOCKED_EVENT:
                self._child(self.policy_blocks, policy).inc()
            elif event.type == "policy.error":
                self._child(self.policy_errors, policy).inc()
            blocked = data.get("blocked")
            if isinstance(blocked, bool):
                self._child(self.policy_decisions, policy, "block" if blocked else "allow").inc()
            if event.type != JUDGE_DECISION_EVENT:
                continue
            latency = data.get("latency_ms")
            if isinstance(latency, int | float) and not isinstance(latency, bool):
                self._child(self.judge_seconds, policy).observe(latency / MS_PER_SECOND)
            reason = data.get("error")
            if isinstance(reason, str):
                self._child(self.judge_failures, policy, reason).inc()

    # -- for other parts of the gateway ---------------------------------------------------------------

    def breaker_state(self, upstream: str, state: BreakerState) -> None:
        """Set an upstream's circuit-breaker state (for the circuit breaker to call on each change)."""
        self._child(self.breaker, upstream).set(state)

    def refresh_storage(self) -> None:
        """Copy the record writer's queue depth and counters into the metrics."""
        stats = self._writer_stats()
        if stats is None:
            return
        seen = self._writer_seen
        self.record_queue.set(stats.queued)
        # The writer's counters only grow: add what grew since the last look.
        for counter, now, before in (
            (self.records_written, stats.written, seen.written),
            (self.records_dropped, stats.dropped, seen.dropped),
            (self.records_failed, stats.failed, seen.failed),
        ):
            if now > before:
                counter.inc(now - before)
        self._writer_seen = stats

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """Refresh the storage figures every `REFRESH_INTERVAL_S` (other workers' scrapes read them)."""

        async def refresh() -> None:
            while True:
                await asyncio.sleep(REFRESH_INTERVAL_S)
                self.refresh_storage()

        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.refresh_storage()
            directory = multiprocess_dir()
            if directory is not None:
                # This worker's live gauges (calls in progress, queue depth) stop counting.
                prometheus_multiprocess.mark_process_dead(os.getpid(), directory)  # pyright: ignore[reportUnknownMemberType]

    def exposition(self) -> bytes:
        """The text format a scrape gets: this process's metrics, or every worker's when multiprocess."""
        self.refresh_storage()
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
