"""Calling a model from inside Luthien, e.g. a policy's judge, a trusted model, or a resample.

One non-streaming request to a named upstream, in its format, with its own configured credentials
and timeouts (the upstream's `timeouts:`, else the global ones), through the upstream's circuit
breaker (a judge's failures count, and an open breaker refuses it), its output limit lowered to the
upstream's `max_output_tokens` (`luthien.upstream.output_cap`). `complete` asks one question; `send`
posts a whole request body of the client's API (a call's own request, re-asked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from multidict import CIMultiDict

from luthien.apis.registry import TRANSLATION_TARGETS
from luthien.upstream.breaker import Breakers
from luthien.upstream.output_cap import capped_body
from luthien.upstream.routing import Router, Upstream
from luthien.upstream.timeouts import resolve_timeouts
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.formats import WireFormat

_FAILURE_REASONS = {
    ErrorKind.UPSTREAM_TIMEOUT: "upstream timed out",
    ErrorKind.UPSTREAM_CIRCUIT_OPEN: "upstream circuit breaker open",
}


class ModelCallError(Exception):
    """A model call failed: unknown upstream, HTTP error, or an answer that is not JSON."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class ModelReply:
    """What a model answered: its text (all text blocks joined) and the raw body."""

    text: str
    body: dict[str, Any]


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def _reply_text(wire_format: WireFormat, body: dict[str, Any]) -> str:
    if wire_format is WireFormat.ANTHROPIC:
        texts = (_dict(block).get("text") for block in _list(body.get("content")))
        return "".join(text for text in texts if isinstance(text, str))
    choices = _list(body.get("choices"))
    content = _dict(_dict(choices[0]).get("message")).get("content") if choices else None
    return content if isinstance(content, str) else ""


class ModelCaller:
    """Sends simple chat requests to configured upstreams in their own format."""

    def __init__(self, router: Router, breakers: Breakers) -> None:
        self._router = router
        self._breakers = breakers

    def upstream(self, name: str) -> Upstream:
        """The upstream named `name`.

        Raises:
            ModelCallError: no such upstream.
        """
        upstream = self._router.named(name)
        if upstream is None:
            raise ModelCallError(f"unknown upstream {name!r}")
        return upstream

    async def complete(
        self, upstream_name: str, model: str, system: str, user: str, max_tokens: int
    ) -> ModelReply:
        """Ask `model` on `upstream_name` one question; return its text.

        Raises:
            ModelCallError: the call failed or the answer was not a JSON object.
        """
        upstream = self.upstream(upstream_name)
        if upstream.format is WireFormat.ANTHROPIC:
            body: dict[str, Any] = {
                "model": model,
                "max_tokens": max_tokens,
                "system": system,
                "messages": [{"role": "user", "content": user}],
            }
        else:
            body = {
                "model": model,
                "max_completion_tokens": max_tokens,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            }
        return await self.send(upstream, TRANSLATION_TARGETS[upstream.api].path, body)

    def routed(self, model: str, client_format: WireFormat) -> Upstream:
        """The upstream a client call for `model` in `client_format` is routed to."""
        return self._router.resolve(model, client_format)

    async def send(
        self,
        upstream: Upstream,
        path: str,
        body: Mapping[str, Any],
        extra_headers: Mapping[str, str] | None = None,
    ) -> ModelReply:
        """POST a whole request `body` to `path` (e.g. `/v1/responses`) on `upstream`, not streaming.

        An output limit above the upstream's `max_output_tokens` is lowered to it.

        Args:
            upstream: where to send it.
            path: the API path.
            body: the request body.
            extra_headers: headers to send beside Luthien's own (e.g. the client's `anthropic-beta`).

        Raises:
            ModelCallError: the call failed or the answer was not a JSON object.
        """
        headers: CIMultiDict[str] = CIMultiDict(extra_headers or {})
        headers["content-type"] = "application/json"
        key = upstream.config.resolved_api_key()
        headers.update(upstream.format.request_headers)
        if key:
            name, value = upstream.format.credential(key)
            headers[name] = value
        url = upstream.url(path, "")
        timeouts = resolve_timeouts(self._breakers.default_timeouts, upstream.config, None)
        capped = capped_body(body, upstream.config.max_output_tokens)
        sent = dict(body) if capped is None else capped
        try:
            async with self._breakers.request(
                upstream, "POST", url, headers, orjson.dumps(sent), timeouts
            ) as response:
                raw = await response.read()
                status = response.status
        except GatewayError as error:
            raise ModelCallError(_FAILURE_REASONS.get(error.kind, "upstream unreachable")) from error
        if status >= 400:
            raise ModelCallError(f"upstream answered HTTP {status}", status)
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ModelCallError("upstream answer is not JSON", status) from error
        if not isinstance(parsed, dict):
            raise ModelCallError("upstream answer is not a JSON object", status)
        answer: dict[str, Any] = parsed  # pyright: ignore[reportUnknownVariableType]
        return ModelReply(_reply_text(upstream.format, answer), answer)
