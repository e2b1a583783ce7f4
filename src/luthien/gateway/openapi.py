"""The whole server's OpenAPI 3.1 document (`GET /openapi.json`): gateway, health, metrics, admin, UI.

Built as data: the model-call paths from the gateway's own `ENDPOINTS` (required fields, error shape
per client API, error statuses from `ErrorKind`), the admin API's paths and schemas from
`luthien.admin.openapi`, and the web UI's pages. A test checks that every route of the app is here.
"""

from __future__ import annotations

from typing import Any

from luthien import __version__
from luthien.admin import openapi as admin
from luthien.admin.openapi.replay import REPLAY_UI_PAGES
from luthien.apis.registry import ENDPOINTS
from luthien.gateway.batches import BATCH_SPECS
from luthien.gateway.coverage import Coverage, Forwarded
from luthien.gateway.stored import FORWARDED
from luthien.wire.apis import Endpoint
from luthien.wire.errors import ErrorKind
from luthien.wire.formats import WireFormat

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
HTML = "text/html"
GATEWAY_TAG = "Model calls"
SERVICE_TAG = "Service"
ADMIN_TAG = "Admin API"
UI_TAG = "Web UI"

_JSON_TYPES = {str: "string", int: "integer", list: "array", dict: "object", bool: "boolean"}
_ERROR_SCHEMA = {WireFormat.ANTHROPIC: "AnthropicError", WireFormat.OPENAI: "OpenAIError"}
_SUMMARIES = {
    "/v1/messages": "Anthropic Messages (streaming with `stream: true`)",
    "/v1/messages/count_tokens": "Anthropic token counting, forwarded untouched (no policy)",
    "/v1/chat/completions": "OpenAI Chat Completions (streaming with `stream: true`)",
    "/v1/responses": "OpenAI Responses (streaming with `stream: true`)",
}
PROXY_SECURITY: list[dict[str, list[str]]] = [{"proxyBearer": []}, {"proxyApiKey": []}, {}]
"""Proxy key as Bearer or `x-api-key`; or none of Luthien's (passthrough: the provider's own key)."""
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"adminKey": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error_kinds(wire_format: WireFormat) -> dict[str, Any]:
    """Each status Luthien answers with on its own, naming its error types."""
    by_status: dict[int, list[ErrorKind]] = {}
    for kind in ErrorKind:
        by_status.setdefault(kind.status, []).append(kind)
    schema = _ref(_ERROR_SCHEMA[wire_format])
    responses: dict[str, Any] = {}
    for status, kinds in sorted(by_status.items()):
        names = sorted(
            {
                kind.value.anthropic_type if wire_format is WireFormat.ANTHROPIC else kind.value.openai_code
                for kind in kinds
            }
        )
        responses[str(status)] = _json(f"error ({', '.join(names)})", schema)
    responses["default"] = _json("an upstream's HTTP error, passed through with its status", schema)
    return responses


def _request_schema(endpoint: Endpoint) -> dict[str, Any]:
    fields = {**(endpoint.optional or {}), **endpoint.required}
    properties: dict[str, Any] = {name: {"type": _JSON_TYPES[kind]} for name, kind in fields.items()}
    if endpoint.applies_policy:
        properties["stream"] = {"type": "boolean", "description": "answer as Server-Sent Events"}
    return {
        "type": "object",
        "required": list(endpoint.required),
        "properties": properties,
        "additionalProperties": True,
        "description": "The provider's request body; every field is forwarded as sent.",
    }


def _model_call(endpoint: Endpoint) -> dict[str, Any]:
    content: dict[str, Any] = {JSON: {"schema": {"type": "object"}}}
    if endpoint.applies_policy:
        content[EVENT_STREAM] = {"schema": {"type": "string"}}
    parameters: list[dict[str, Any]] = []
    if endpoint.applies_policy:
        parameters.append(
            {
                "name": "X-Luthien-Policy",
                "in": "header",
                "required": False,
                "description": "serve this call with a configured policy (when LUTHIEN_ALLOW_POLICY_HEADER)",
                "schema": {"type": "string"},
            }
        )
    return {
        "post": {
            "tags": [GATEWAY_TAG],
            "summary": _SUMMARIES.get(endpoint.path, endpoint.path),
            "security": PROXY_SECURITY,
            "parameters": parameters,
            "requestBody": {"required": True, "content": {JSON: {"schema": _request_schema(endpoint)}}},
            "responses": {
                "200": {
                    "description": "the provider's answer, through the active policy",
                    "content": content,
                },
                **_error_kinds(endpoint.api.format),
            },
        }
    }


_COVERAGE = {
    Coverage.NONE: "the provider's answer, forwarded as it came (it holds no model output)",
    Coverage.REQUEST: "the provider's answer; the request went through the active policy's `on_request`",
    Coverage.RESPONSE: "the provider's answer, through the active policy",
    Coverage.UNCHECKED: "the provider's answer; refused (403) while the active policy inspects responses, "
    "unless the config's `allow_unchecked` names this path",
}


def _forwarded(spec: Forwarded) -> dict[str, Any]:
    """One forwarded endpoint's operation (`gateway/stored.py`, `gateway/batches.py`)."""
    content: dict[str, Any] = {JSON: {"schema": {"type": "object"}}}
    if spec.path.startswith("/v1/responses/{"):
        content[EVENT_STREAM] = {"schema": {"type": "string"}}  # `stream=true` retrieval
    operation: dict[str, Any] = {
        "tags": [GATEWAY_TAG],
        "summary": spec.summary,
        "security": PROXY_SECURITY,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_parameters(openapi_path(spec.path))
        ],
        "responses": {"200": {"description": _COVERAGE[spec.coverage], "content": content}},
    }
    if spec.method == "POST":
        schema = {"type": "object", "additionalProperties": True}
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
    operation["responses"].update(_error_kinds(spec.api.format))
    return operation


def openapi_path(path: str) -> str:
    """A route's path as OpenAPI writes it (`{model_id:path}` → `{model_id}`)."""
    return path.replace(":path}", "}")


def _forwarded_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {endpoint.path: _model_call(endpoint) for endpoint in ENDPOINTS}
    for spec in (*FORWARDED, *BATCH_SPECS):
        paths.setdefault(openapi_path(spec.path), {})[spec.method.lower()] = _forwarded(spec)
    return paths


def _service(summary: str, responses: dict[str, Any], security: list[dict[str, list[str]]]) -> dict[str, Any]:
    return {"tags": [SERVICE_TAG], "summary": summary, "security": security, "responses": responses}


DEPENDENCY = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["ok", "degraded", "unavailable", "off"]}},
    "additionalProperties": True,
}
READY = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
        "checks": {"type": "object", "additionalProperties": DEPENDENCY},
    },
}
SERVICE_PATHS: dict[str, Any] = {
    "/": {
        "get": _service(
            "Service name and version (clients probe the base URL)",
            {"200": _json("the service", {"type": "object"})},
            [],
        ),
        "head": _service("As GET, without a body", {"200": {"description": "up"}}, []),
    },
    "/v1/models": {
        "get": {
            **_service(
                "Models of the upstreams speaking the client's format (Anthropic with `anthropic-version`)",
                {
                    "200": _json("the provider's model list", {"type": "object"}),
                    "401": _json("missing or wrong proxy key", _ref("OpenAIError")),
                    "502": _json("no upstream answered", _ref("OpenAIError")),
                },
                PROXY_SECURITY,
            ),
            "tags": [GATEWAY_TAG],
        }
    },
    "/health": {
        "get": _service(
            "Liveness",
            {"200": _json("up", {"type": "object", "properties": {"status": {"const": "ok"}}})},
            [],
        )
    },
    "/ready": {
        "get": _service(
            "Readiness for load balancers: each dependency's state",
            {"200": _json("ok or degraded (still serving)", READY), "503": _json("unavailable", READY)},
            [],
        )
    },
    "/metrics": {
        "get": _service(
            "Prometheus metrics (text exposition format)",
            {
                "200": {
                    "description": "the metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": _json("missing or wrong admin key", _ref("Error")),
                "403": _json("not loopback, and no admin key is configured", _ref("Error")),
            },
            ADMIN_SECURITY,
        )
    },
    "/openapi.json": {
        "get": _service("This document", {"200": _json("OpenAPI 3.1", {"type": "object"})}, [])
    },
    "/docs": {
        "get": _service(
            "This document as a page",
            {"200": {"description": "HTML", "content": {HTML: {"schema": {"type": "string"}}}}},
            [],
        )
    },
}

_PAGE = {"200": {"description": "an HTML page", "content": {HTML: {"schema": {"type": "string"}}}}}
_REDIRECT = {"303": {"description": "redirect (after the form, or to the login page)"}}
UI_PAGES: dict[str, dict[str, str]] = {
    "/ui": {"get": "Redirect to the activity monitor"},
    "/ui/": {"get": "Redirect to the activity monitor"},
    "/ui/activity": {"get": "Live activity monitor"},
    "/ui/history": {"get": "Searchable history of calls"},
    "/ui/transactions/{transaction_id}": {
        "get": "One call: both versions side by side, diffs, events, shadow policies' verdicts"
    },
    "/ui/sessions": {"get": "Agent sessions"},
    "/ui/sessions/{session_id}": {"get": "One agent session's timeline"},
    "/ui/policies": {
        "get": "Policies, the active one and the shadows",
        "post": "Switch the active policy (form)",
    },
    "/ui/policies/shadow": {"post": "Run a policy in shadow, or stop (form)"},
    "/ui/login": {"get": "Login page", "post": "Log in with the admin key (form)"},
    "/ui/logout": {"post": "Log out (form)"},
    "/ui/approvals": {"get": "Tool calls waiting for a person's approval"},
    "/ui/approvals/{approval_id}": {"post": "Approve or deny a held tool call (form)"},
    "/ui/static/{name}": {"get": "A content-hashed static asset"},
    **REPLAY_UI_PAGES,
}


def _ui_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, operations in UI_PAGES.items():
        item: dict[str, Any] = {}
        for method, summary in operations.items():
            item[method] = {
                "tags": [UI_TAG],
                "summary": summary,
                "security": [*ADMIN_SECURITY, {"session": []}],
                "responses": {**_PAGE, **_REDIRECT},
            }
            parameters = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_parameters(path)
            ]
            if parameters:
                item[method]["parameters"] = parameters
        paths[path] = item
    return paths


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _admin_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, item in admin.PATHS.items():
        paths[path] = {
            method: {"tags": [ADMIN_TAG], "security": ADMIN_SECURITY, **operation}
            for method, operation in item.items()
        }
    return paths


ANTHROPIC_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


def openapi_document() -> dict[str, Any]:
    """The whole server's document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Luthien",
            "version": __version__,
            "description": "An AI-control proxy: the Anthropic and OpenAI model-call endpoints (their own "
            "request bodies, forwarded losslessly through the active policy), health and metrics, the "
            "admin API and the web UI. Errors arrive in each client's own shape.",
        },
        "tags": [{"name": tag} for tag in (GATEWAY_TAG, SERVICE_TAG, ADMIN_TAG, UI_TAG)],
        "paths": {
            **_forwarded_paths(),
            **SERVICE_PATHS,
            **_admin_paths(),
            **_ui_paths(),
        },
        "components": {
            "schemas": {**admin.SCHEMAS, "AnthropicError": ANTHROPIC_ERROR, "OpenAIError": OPENAI_ERROR},
            "securitySchemes": {
                "proxyBearer": {"type": "http", "scheme": "bearer", "description": "LUTHIEN_API_KEY"},
                "proxyApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "adminKey": admin.ADMIN_KEY_SCHEME,
                "session": {"type": "apiKey", "in": "cookie", "name": "luthien_session"},
            },
        },
    }
