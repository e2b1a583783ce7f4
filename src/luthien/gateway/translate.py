"""Where a model call goes and in which API: routing, and translation when the upstream's API differs.

The call is routed after the policy's `on_request` (policies see the client's request, in the
client's API). An upstream that serves the client's API (`Upstream.serves`) gets the call as today:
the body's exact bytes, the client's path and query string. Any other call is translated
(`luthien.translation.requests`) to the upstream's API (`Upstream.api_for`) and posted to that API's
path; the client's query string belongs to the client's API (Claude Code's `?beta=true`) and is
dropped. The answer comes back through the pipeline with the upstream's API (`gateway/proxy.py`).
Built-in tools named by `LUTHIEN_TRANSLATION_DROPPED_TOOL_TYPES` (Codex's `web_search`) are left out
of a translated call. Either way, an upstream's `max_output_tokens` caps the request's output limit
(`luthien.upstream.output_cap`; an uncapped same-API call keeps its exact bytes).

Credentials: a translated call carries the upstream's configured key, never the client's, since a
client's Anthropic key is no OpenAI key. A translated call from a client that did not present the
Luthien key (passthrough auth) is refused, and `check_passthrough` refuses at startup a
passthrough-only server whose config can only be used translated (an `openai-chat` upstream that
Messages and Responses clients reach). Provider headers of the client's dialect (`anthropic-*`,
`openai-*`) are not sent to an upstream of another API: they mean nothing there, or something else.

`/v1/messages/count_tokens` for a model routed to an upstream without Anthropic's API is answered
with a 400 in Anthropic's shape: no other API counts tokens, and a local estimate would be a guess a
client would budget its context on.

Codex's remote compaction (a Responses call ending in a `compaction_trigger` item) on a translated
route asks the upstream's model for a summary, and its answer is made the one `compaction` item Codex
expects (`luthien.translation.compaction`; the stage is wrapped in `translated_stage`).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from multidict import CIMultiDict

from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.apis.registry import BY_DIALECT
from luthien.call.request import CallRequest
from luthien.config import ConfigError
from luthien.gateway.headers import upstream_request_headers
from luthien.gateway.state import GatewayState
from luthien.pipeline.stage import PolicyStage, ResponseStage, TranslationStage
from luthien.settings import AuthMode, Settings
from luthien.translation.compaction import CompactionStage, asks_for_compaction
from luthien.translation.requests import translate_request
from luthien.upstream.output_cap import capped_body
from luthien.upstream.routing import Router, Upstream
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.formats import WireFormat

_DIALECT_HEADER_PREFIXES = ("anthropic-", "openai-")


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One model call as it goes upstream.

    Attributes:
        upstream: where it goes.
        api: the API it is sent in (the client's unless translated).
        url: the upstream URL.
        body: the request body sent.
        headers: the upstream request headers.
        key: the upstream's configured key, if any (scrubbed from the record).
        translated: whether `api` differs from the client's API.
        compacting: whether it is Codex's compaction, translated (answered by a compaction item).
        capped: whether the upstream's output cap lowered the request's output limit
            (`luthien.upstream.output_cap`).
    """

    upstream: Upstream
    api: WireApi
    url: str
    body: bytes
    headers: CIMultiDict[str]
    key: str | None
    translated: bool
    compacting: bool = False
    capped: bool = False


def route(state: GatewayState, client_api: WireApi, model: str) -> Upstream:
    """The upstream serving `model` now: its route's, or the route's fallback while it is failing."""
    upstream = state.router.resolve(model, client_api.format)
    configured = state.router.route(model)
    return state.breakers.choose(upstream, configured.fallback if configured is not None else None)


def upstream_call(
    upstream: Upstream,
    client_api: WireApi,
    path: str,
    query: str,
    request: CallRequest,
    client_headers: list[tuple[str, str]],
    server_key: bool,
    settings: Settings,
) -> UpstreamCall:
    """How `request` (after `on_request`) goes to `upstream`.

    Args:
        upstream: the routed upstream.
        client_api: the client's API.
        path: the client's path (`/v1/messages/count_tokens` is not a model call).
        query: the client's query string.
        request: the request to send.
        client_headers: the client's headers.
        server_key: whether the upstream gets Luthien's key (`gateway/auth.py`).
        settings: the process settings.

    Raises:
        GatewayError: INVALID_REQUEST for a call that cannot be translated (a field without a
            counterpart, token counting, a client's own credentials).
    """
    key = upstream.config.resolved_api_key()
    cap = upstream.config.max_output_tokens
    if upstream.serves(client_api):
        headers = upstream_request_headers(client_headers, upstream.format, key, server_key)
        capped = capped_body(request.body, cap)
        body = request.to_bytes() if capped is None else orjson.dumps(capped)
        return UpstreamCall(
            upstream,
            client_api,
            upstream.url(path, query),
            body,
            headers,
            key,
            False,
            capped=capped is not None,
        )
    where = f"model {request.model!r} routes to upstream {upstream.name!r} ({upstream.api.value})"
    if path != client_api.path:
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"{where}, which does not serve {path}: only Anthropic upstreams count tokens",
        )
    if not server_key:
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"{where}, which speaks another API: a translated call is sent with Luthien's key for the "
            "upstream, never a client's own credentials; present the Luthien API key",
        )
    target = upstream.api_for(client_api)
    body = translate_request(
        dict(request.body),
        client_api,
        target,
        default_max_tokens=settings.translation_default_max_tokens,
        droppable_tool_types=settings.dropped_tool_types,
    )
    capped = capped_body(body, cap)
    headers = translated_headers(client_headers, upstream, key)
    compacting = client_api is OPENAI_RESPONSES and asks_for_compaction(request.body)
    return UpstreamCall(
        upstream,
        target,
        upstream.url(target.path, ""),
        orjson.dumps(body if capped is None else capped),
        headers,
        key,
        True,
        compacting,
        capped is not None,
    )


def translated_headers(
    client_headers: list[tuple[str, str]], upstream: Upstream, key: str | None
) -> CIMultiDict[str]:
    """Upstream headers of a translated call: the client's, less its dialect's, with the upstream's key."""
    kept = [(name, value) for name, value in client_headers if not name.startswith(_DIALECT_HEADER_PREFIXES)]
    headers = upstream_request_headers(kept, upstream.format, key, True)
    headers.update(upstream.format.request_headers)
    return headers


def check_passthrough(router: Router, settings: Settings) -> None:
    """Refuse a passthrough-only server whose config sends some client's calls only translated.

    Without a Luthien key no call carries the upstream's configured key, and a translated call never
    carries the client's own credentials: a route to an upstream that serves only part of its
    dialect's APIs (`openai-chat`), or a built-in default upstream replaced by one that does not
    serve its dialect's APIs, could serve no call that needs translating.

    Raises:
        ConfigError: naming the route or upstream.
    """
    if settings.effective_auth_mode is not AuthMode.PASSTHROUGH:
        return
    for index, configured in enumerate(router.routes()):
        for role, upstream in (("upstream", configured.upstream), ("fallback", configured.fallback)):
            if upstream is not None and not _serves_dialect(upstream):
                field = f"routes[{index}].{role}"
                raise ConfigError(
                    f"{field}: upstream {upstream.name!r} ({upstream.api.value}) serves only some "
                    f"{upstream.format.value} APIs, so calls to {configured.pattern!r} in the others are "
                    f"translated; {_PASSTHROUGH_ADVICE}",
                    field=field,
                )
    for dialect in WireFormat:
        default = router.named(dialect.value)
        if default is not None and not all(default.serves(api) for api in BY_DIALECT[dialect]):
            field = f"upstreams.{dialect.value}"
            raise ConfigError(
                f"{field}: the default upstream of {dialect.value} clients serves "
                f"{default.api.value}, so some of their calls are translated; {_PASSTHROUGH_ADVICE}",
                field=field,
            )


_PASSTHROUGH_ADVICE = (
    "translated calls carry the upstream's own key, which needs LUTHIEN_API_KEY (auth mode proxy or "
    "both), never a client's credentials (passthrough)"
)


def _serves_dialect(upstream: Upstream) -> bool:
    return all(upstream.serves(api) for api in BY_DIALECT[upstream.format])


def translated_stage(
    stage: ResponseStage, client_api: WireApi, upstream_api: WireApi, *, compacting: bool = False
) -> ResponseStage:
    """The stage of a translated answer: the policy's, told the upstream's API, or a translating one.

    A compaction's (`compacting`) is wrapped: its text answer becomes Codex's compaction item.
    """
    if isinstance(stage, PolicyStage):
        stage.upstream_api = upstream_api
    else:
        stage = TranslationStage(client_api, upstream_api)
    return CompactionStage(stage) if compacting else stage
