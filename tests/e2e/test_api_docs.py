"""`/openapi.json` and `/docs`: a valid document that lists every route the app serves, and its page."""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route

from tests.support.records import GUARD_S
from tests.support.servers import LuthienServer

_CONVERTER = re.compile(r"\{(\w+):\w+\}")
DOCUMENTED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def document(server: LuthienServer) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/openapi.json", timeout=GUARD_S)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def _inner_routes(app: Any) -> list[BaseRoute]:
    # A mount's app may be wrapped (the admin guard) around the router that holds the routes.
    while not hasattr(app, "routes"):
        app = app.app
    routes: list[BaseRoute] = app.routes
    return routes


def served_routes(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) for every route, mounts walked, path converters dropped (`{id:path}` → `{id}`)."""
    served: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            served |= served_routes(_inner_routes(route.app), prefix + route.path)
        elif isinstance(route, Route):
            path = _CONVERTER.sub(r"{\1}", prefix + route.path)
            served |= {(method, path) for method in route.methods or () if method in DOCUMENTED_METHODS}
    return served


def test_the_document_is_valid_openapi(luthien: LuthienServer) -> None:
    validate(document(luthien))


def test_every_route_the_app_serves_is_in_the_document(luthien: LuthienServer) -> None:
    paths = document(luthien)["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}

    served = served_routes(luthien.app.routes)

    assert served - documented == set()
    assert ("POST", "/v1/messages") in served
    assert ("GET", "/api/transactions/{transaction_id}") in served
    assert ("GET", "/metrics") in served
    assert {method for method, path in documented - served} <= {"HEAD"}


def test_errors_the_gateway_sends_match_their_documented_schemas(luthien: LuthienServer) -> None:
    spec = document(luthien)
    schemas = spec["components"]["schemas"]
    cases = [
        ("/v1/messages", "AnthropicError"),
        ("/v1/chat/completions", "OpenAIError"),
        ("/v1/responses", "OpenAIError"),
    ]
    for path, schema_name in cases:
        documented = spec["paths"][path]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
        assert documented == {"$ref": f"#/components/schemas/{schema_name}"}
        response = httpx.post(f"{luthien.base_url}{path}", content=b"{not json", timeout=GUARD_S)
        assert response.status_code == 400
        validator = OAS31Validator({**schemas[schema_name], "components": spec["components"]})
        assert validator.is_valid(response.json()), path


def test_the_admin_apis_own_document_is_still_served(luthien: LuthienServer) -> None:
    admin = httpx.get(f"{luthien.base_url}/api/openapi.json", timeout=GUARD_S).json()
    whole = document(luthien)

    validate(admin)
    assert set(admin["paths"]) <= set(whole["paths"])
    assert whole["paths"]["/api/policy"]["put"]["security"] == [{"adminKey": []}]


def test_the_docs_page_lists_every_path_with_the_ui_styles_and_no_outside_assets(
    luthien: LuthienServer,
) -> None:
    response = httpx.get(f"{luthien.base_url}/docs", timeout=GUARD_S)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    for path, item in document(luthien)["paths"].items():
        for method in item:
            assert f'id="{method}-{path}"' in page
            assert f"<code>{path}</code>" in page
    assert re.search(r"""(src|href)=["']?(https?:)?//""", page) is None
    # Its stylesheet and theme script are the web UI's own, served by Luthien itself.
    assets = re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page)
    assert any(asset.endswith(".css") for asset in assets)
    assert all(httpx.get(f"{luthien.base_url}{asset}").status_code == 200 for asset in assets)
