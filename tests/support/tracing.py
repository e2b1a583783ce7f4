"""Tracing a piece of work the way the gateway traces a call, and keeping the spans it finished."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.types import Message, Receive, Scope, Send

from luthien.observability.tracing import TracedCall


async def traced(work: Callable[[], Awaitable[object]]) -> list[ReadableSpan]:
    """Run `work` inside a call traced the way the gateway traces one; the spans it finished."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await work()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    scope: Scope = {"type": "http", "method": "POST", "path": "/v1/messages", "headers": []}
    await TracedCall(app, provider.get_tracer("test"), "anthropic-messages")(scope, receive, send)
    return list(exporter.get_finished_spans())
