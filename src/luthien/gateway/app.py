"""The ASGI application: routes, lifespan (upstream pool, events, records, rate limiter), transaction ids."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from luthien import __version__
from luthien.activity.log import ActivityLog
from luthien.admin.side import AdminSide
from luthien.apis.registry import ENDPOINTS
from luthien.approvals.service import open_approvals
from luthien.config import LuthienConfig, load_config
from luthien.events.factory import open_bus
from luthien.gateway.apidocs import api_docs_routes
from luthien.gateway.asgi import TransactionIdMiddleware
from luthien.gateway.batches import batch_endpoints
from luthien.gateway.forward import ForwardedEndpoint
from luthien.gateway.limits import CallGate
from luthien.gateway.models import MODELS_PATH, ModelsEndpoint
from luthien.gateway.proxy import ProxyEndpoint
from luthien.gateway.readiness import Readiness
from luthien.gateway.selection import PolicySelector
from luthien.gateway.state import GatewayState
from luthien.gateway.stored import FORWARDED, supported_endpoints
from luthien.gateway.translate import check_passthrough
from luthien.observability.endpoint import METRICS_PATH, MetricsEndpoint
from luthien.observability.metrics import BreakerState as BreakerGauge
from luthien.observability.metrics import Metrics
from luthien.observability.observer import GatewayObserver
from luthien.observability.tracing import Tracing
from luthien.policy.registry import active_policy_name, build_policies
from luthien.ratelimit.limiter import open_limiter
from luthien.settings import Settings
from luthien.shadow.policies import ShadowSet
from luthien.storage import open_storage
from luthien.upstream.breaker import Breakers
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router
from luthien.wire.errors import ErrorKind, anthropic_error, openai_error

HTTP_NOT_FOUND = 404
HTTP_METHOD_NOT_ALLOWED = 405


async def root(request: Request) -> Response:
    """`HEAD /` and `GET /`: 200, so clients that probe the base URL (Claude Code) are satisfied."""
    return JSONResponse({"service": "luthien", "version": __version__})


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods answer in the client's error shape, not plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else HTTP_NOT_FOUND
    not_found = status == HTTP_NOT_FOUND
    kind = ErrorKind.NOT_FOUND if not_found else ErrorKind.INVALID_REQUEST
    problem = (
        f"no such endpoint; Luthien serves {supported_endpoints()}" if not_found else "method not allowed"
    )
    message = f"{request.method} {request.url.path}: {problem}"
    is_anthropic = "anthropic-version" in request.headers or request.url.path.startswith("/v1/messages")
    body = anthropic_error(kind, message) if is_anthropic else openai_error(kind, message)
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    return JSONResponse(body, status_code=status, headers=headers)


async def health(request: Request) -> Response:
    """Liveness: the process is up and serving (readiness and dependencies: `/ready`)."""
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, config: LuthienConfig | None = None) -> Starlette:
    """Build the gateway.

    Args:
        settings: process settings; read from the environment when omitted.
        config: the parsed config file; loaded from `settings.config` when omitted.

    Raises:
        ConfigError: the config file is invalid, or names policies that cannot be built.
        DatabaseUrlError: `LUTHIEN_DATABASE_URL` is not a SQLite or PostgreSQL URL.
    """
    settings = settings or Settings()
    config = (config if config is not None else load_config(settings.config)).with_builtins(settings)
    active = active_policy_name(config, settings.test_policy)
    policies = build_policies(config, active)
    client = UpstreamClient(settings)
    router = Router(config)
    check_passthrough(router, settings)
    limiter = open_limiter(settings)
    bus = open_bus(settings)
    storage = open_storage(settings)
    metrics = Metrics(
        settings.metrics_max_models, lambda: storage.writer.stats if storage.writer is not None else None
    )
    breakers = Breakers(
        client,
        settings.breaker_failures,
        settings.breaker_cooldown_s,
        on_change=lambda upstream, state: metrics.breaker_state(upstream, BreakerGauge[state.name]),
    )
    tracing = Tracing(settings)
    state = GatewayState(
        settings=settings,
        router=router,
        client=client,
        policies=PolicySelector(policies, active, settings.allow_policy_header),
        activity=ActivityLog(),
        models=ModelCaller(router, breakers),
        bus=bus,
        records=storage.sink,
        store=storage.record_store,
        breakers=breakers,
        limiter=limiter,
        calls=CallGate(settings.max_concurrent_calls),
        metrics=metrics,
        observer=GatewayObserver(metrics, tracing),
        shadows=ShadowSet(policies, config.shadow, settings),
        replays=storage.replays,
        approvals=open_approvals(settings, bus),
    )

    unchecked = frozenset(config.allow_unchecked)
    admin = AdminSide(state)
    readiness = Readiness(storage, bus, limiter, breakers, router)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None]:
        await client.start()
        await bus.start()
        await storage.start()
        try:
            async with admin.running(), metrics.running():
                yield
        finally:
            # Shadow work (judge calls, records waiting for it) ends before the pool and storage close.
            await state.shadows.drain()
            await client.close()
            if state.approvals is not None:
                await state.approvals.close()
            # Calls have ended: their records, events and spans are flushed before the process exits.
            await storage.close()
            await bus.close()
            await limiter.backend.close()
            await tracing.shutdown()

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", readiness.respond, methods=["GET"]),
        Route(MODELS_PATH, ModelsEndpoint(state), methods=["GET"]),
        *(
            Route(
                endpoint.path, tracing.wrap(ProxyEndpoint(endpoint, state), endpoint.path), methods=["POST"]
            )
            for endpoint in ENDPOINTS
        ),
        *(
            Route(spec.path, tracing.wrap(app, spec.path), methods=[spec.method])
            for spec, app in (
                *((spec, ForwardedEndpoint(spec, state, unchecked)) for spec in FORWARDED),
                *batch_endpoints(state, unchecked),
            )
        ),
        Route(METRICS_PATH, MetricsEndpoint(metrics, admin.access).respond, methods=["GET"]),
        *api_docs_routes(),
        *admin.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(TransactionIdMiddleware)],
        exception_handlers={HTTP_NOT_FOUND: http_error, HTTP_METHOD_NOT_ALLOWED: http_error},
    )
    app.state.gateway = state
    return app
