"""`GET /openapi.json` and `GET /docs`: the server's OpenAPI document, as JSON and as a page.

The page is rendered on the server from the same document (no assets from elsewhere: the server may
have no internet access), styled by the web UI's own stylesheet and theme, with its
Content-Security-Policy. Both are public:
the document describes the API, it holds no data and no secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from luthien.gateway.openapi import openapi_document
from luthien.web.assets import AssetCatalog
from luthien.web.render import PAGE_HEADERS, TEMPLATE_DIR

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
METHODS = ("get", "head", "post", "put", "patch", "delete")


@dataclass
class _Operation:
    method: str
    path: str
    summary: str
    security: str
    anchor: str
    parameters: list[dict[str, Any]]
    request: list[tuple[str, str]]
    responses: list[tuple[str, str, str, str]]


@dataclass
class _Tag:
    name: str
    operations: list[_Operation] = field(default_factory=list[_Operation])


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")


def _security(requirements: list[dict[str, list[str]]]) -> str:
    if not requirements:
        return "none"
    # An empty requirement: no Luthien key (passthrough mode: the provider's own credentials).
    names = [" and ".join(requirement) or "none (passthrough mode)" for requirement in requirements]
    return " or ".join(names)


def _operation(path: str, method: str, operation: dict[str, Any], default_security: Any) -> _Operation:
    parameters = [
        {
            "name": parameter["name"],
            "in": parameter["in"],
            "required": bool(parameter.get("required", False)),
            "description": parameter.get("description", ""),
            "schema_text": _pretty(parameter.get("schema", {})),
        }
        for parameter in operation.get("parameters", [])
    ]
    body: dict[str, Any] = operation.get("requestBody", {})
    request = [(media, _pretty(spec.get("schema", {}))) for media, spec in body.get("content", {}).items()]
    responses: list[tuple[str, str, str, str]] = []
    for status, response in operation.get("responses", {}).items():
        content: dict[str, Any] = response.get("content") or {"": {}}
        for media, spec in content.items():
            schema = spec.get("schema")
            responses.append(
                (status, response.get("description", ""), media, _pretty(schema) if schema else "")
            )
    return _Operation(
        method=method.upper(),
        path=path,
        summary=operation.get("summary", ""),
        security=_security(operation.get("security", default_security)),
        anchor=f"{method}-{path}",
        parameters=parameters,
        request=request,
        responses=responses,
    )


def _page_context(document: dict[str, Any]) -> dict[str, Any]:
    tags = {tag["name"]: _Tag(tag["name"]) for tag in document.get("tags", [])}
    default_security = document.get("security", [])
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["Other"])[0]
            tags.setdefault(tag, _Tag(tag)).operations.append(
                _operation(path, method, operation, default_security)
            )
    schemas = [(name, _pretty(schema)) for name, schema in document["components"]["schemas"].items()]
    return {
        "info": document["info"],
        "openapi": document["openapi"],
        "tags": [tag for tag in tags.values() if tag.operations],
        "schemas": schemas,
    }


@cache
def _document_json() -> bytes:
    """The document as JSON (fixed for the process's lifetime)."""
    return orjson.dumps(openapi_document())


@cache
def _page() -> str:
    """The document as a page (fixed for the process's lifetime)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    page = environment.get_template("api_docs.html")
    return page.render(asset=AssetCatalog().url, **_page_context(openapi_document()))


async def openapi_json(request: Request) -> Response:
    """`GET /openapi.json`."""
    return Response(_document_json(), media_type="application/json")


async def docs_page(request: Request) -> Response:
    """`GET /docs`."""
    return HTMLResponse(_page(), headers=PAGE_HEADERS)


def api_docs_routes() -> list[BaseRoute]:
    """`/openapi.json` and `/docs`."""
    return [
        Route(OPENAPI_PATH, openapi_json, methods=["GET"]),
        Route(DOCS_PATH, docs_page, methods=["GET"]),
    ]
