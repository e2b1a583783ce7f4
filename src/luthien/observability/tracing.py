"""OpenTelemetry tracing: off unless `LUTHIEN_OTEL_ENDPOINT` names an OTLP/HTTP receiver.

Spans, when on:

```
POST /v1/messages                (SERVER; child of the client's `traceparent`, if it sent one)
├── policy.on_request            (per policy; a chain has one per member)
├── upstream POST                (CLIENT; our `traceparent` goes upstream in place of the client's;
│                                 never the current span, so the response's spans stay under the call)
├── policy.response              (per policy that inspects responses)
└── policy.on_block_complete     (a held block's hook, e.g. a tool call being judged)
    └── judge                    (the judge's verdict)
        └── upstream POST        (the judge's own model call)
```

The call span carries `luthien.transaction_id`, `luthien.endpoint`, and once the call is over
`luthien.model`, `luthien.upstream`, `luthien.status` and `http.response.status_code` (set from
the finished record, `annotate_call`).

Cost when off: the model-call routes are not wrapped at all, and `span` / `upstream_span` read one
context variable and return a shared no-op context manager. The tracer a call uses travels in that
context variable (set by the call span's wrapper), so the code deep inside a call (runner, judge,
upstream client) needs no reference to it, and several apps in one process (tests) keep theirs apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Mapping
from contextvars import ContextVar
from typing import Any

from multidict import CIMultiDict
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from starlette.types import ASGIApp, Receive, Scope, Send

from luthien import __version__
from luthien.records.model import TransactionStatus
from luthien.records.observer import FinishedCall
from luthien.records.transaction_id import transaction_id
from luthien.settings import Settings

TRACES_PATH = "/v1/traces"
"""Where an OTLP/HTTP receiver takes spans, appended to `LUTHIEN_OTEL_ENDPOINT` unless present."""
TRACE_HEADERS = ("traceparent", "tracestate")

_TRACER: ContextVar[Tracer | None] = ContextVar("luthien_tracer", default=None)
_NO_SPAN: contextlib.nullcontext[None] = contextlib.nullcontext()
_PROPAGATOR = TraceContextTextMapPropagator()

Attributes = Mapping[str, AttributeValue]


def traces_url(endpoint: str) -> str:
    """The URL spans are posted to: the endpoint, with `/v1/traces` appended unless it is there."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def span(
    name: str,
    attributes: Attributes | None = None,
    parent: Span | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> contextlib.AbstractContextManager[Span | None]:
    """A child span of the current one, current while the block runs (None when tracing is off).

    Args:
        name: the span's name.
        attributes: its attributes.
        parent: a span to hang it under instead of the current one.
        kind: the span's kind.
    """
    tracer = _TRACER.get()
    if tracer is None:
        return _NO_SPAN
    context = trace.set_span_in_context(parent) if parent is not None else None
    return tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes)


def start_span(
    name: str, attributes: Attributes | None = None, kind: SpanKind = SpanKind.INTERNAL
) -> Span | None:
    """A child span of the current one, not made current, that the caller ends (None: tracing is off)."""
    tracer = _TRACER.get()
    return None if tracer is None else tracer.start_span(name, kind=kind, attributes=attributes)


def upstream_span(
    method: str, url: str, headers: CIMultiDict[str]
) -> contextlib.AbstractContextManager[Span | None]:
    """The span of one upstream request; puts its `traceparent` in `headers` in place of the client's.

    With tracing off, `headers` are left as they are (a client's `traceparent` passes through).
    """
    if _TRACER.get() is None:
        return _NO_SPAN
    return _upstream_span(method, url, headers)


@contextlib.contextmanager
def _upstream_span(method: str, url: str, headers: CIMultiDict[str]) -> Generator[Span | None]:
    # Not made current: the response is processed inside this block, and the policy spans of that
    # processing belong under the call, not under the upstream request.
    current = start_span(
        f"upstream {method}",
        {"http.request.method": method, "url.full": url.split("?", 1)[0]},
        SpanKind.CLIENT,
    )
    if current is None:
        yield None
        return
    for name in TRACE_HEADERS:
        headers.popall(name, None)
    _PROPAGATOR.inject(headers, context=trace.set_span_in_context(current))
    try:
        yield current
    except BaseException as error:
        current.record_exception(error)
        current.set_status(Status(StatusCode.ERROR, type(error).__name__))
        raise
    finally:
        current.end()


def annotate_call(call: FinishedCall) -> None:
    """Set the finished call's model, upstream and status on the call span (the current span)."""
    current = trace.get_current_span()
    record = call.record
    if record is None or not current.is_recording():
        return
    attributes: dict[str, AttributeValue] = {"luthien.status": record.status.value}
    if record.model is not None:
        attributes["luthien.model"] = record.model
    if record.upstream is not None:
        attributes["luthien.upstream"] = record.upstream
    if record.policy is not None:
        attributes["luthien.policy"] = record.policy
    if record.http_status is not None:
        attributes["http.response.status_code"] = record.http_status
    current.set_attributes(attributes)
    if record.status is TransactionStatus.ERROR:
        current.set_status(Status(StatusCode.ERROR, record.error))


class Tracing:
    """The app's tracer provider and exporter (when `LUTHIEN_OTEL_ENDPOINT` is set)."""

    def __init__(self, settings: Settings) -> None:
        self._provider: TracerProvider | None = None
        self.tracer: Tracer | None = None
        if settings.otel_endpoint is None:
            return
        resource = Resource.create(
            {"service.name": settings.otel_service_name, "service.version": __version__}
        )
        self._provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=traces_url(settings.otel_endpoint))
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self._provider.get_tracer("luthien", __version__)

    @property
    def enabled(self) -> bool:
        """Whether spans are made and exported."""
        return self.tracer is not None

    def wrap(self, app: ASGIApp, endpoint: str) -> ASGIApp:
        """`app` with a call span around each request (`app` itself when tracing is off)."""
        return app if self.tracer is None else TracedCall(app, self.tracer, endpoint)

    async def shutdown(self) -> None:
        """Export the spans still queued, then stop (in a thread: the exporter blocks)."""
        if self._provider is not None:
            await asyncio.to_thread(self._provider.shutdown)


class TracedCall:
    """ASGI wrapper: one SERVER span per call, continuing the client's W3C `traceparent`."""

    def __init__(self, app: ASGIApp, tracer: Tracer, endpoint: str) -> None:
        self.app = app
        self.tracer = tracer
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the call inside its span, with the tracer available to everything the call does."""
        carrier: dict[str, Any] = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name.decode("latin-1") in TRACE_HEADERS
        }
        parent = _PROPAGATOR.extract(carrier)
        attributes: dict[str, AttributeValue] = {
            "luthien.transaction_id": transaction_id(scope),
            "luthien.endpoint": self.endpoint,
            "http.request.method": scope["method"],
            "url.path": scope["path"],
        }
        token = _TRACER.set(self.tracer)
        try:
            with self.tracer.start_as_current_span(
                f"{scope['method']} {self.endpoint}",
                context=parent,
                kind=SpanKind.SERVER,
                attributes=attributes,
            ):
                await self.app(scope, receive, send)
        finally:
            _TRACER.reset(token)
