"""The admin API through a real server: every endpoint, and a clear 4xx for every kind of bad input.

Records are made the way users make them: calls through the proxy to the fake provider.
"""

from __future__ import annotations

import httpx
from openapi_spec_validator import validate
from starlette.routing import Mount, Route, Router

from luthien.admin.guard import AdminGuard
from tests.luthien_server import LuthienServer


def api_paths(server: LuthienServer) -> set[str]:
    """Every path the running app serves under /api (read from its route table)."""
    mount = next(r for r in server.app.routes if isinstance(r, Mount) and r.path == "/api")
    guard = mount.app
    assert isinstance(guard, AdminGuard)
    router = guard.app
    assert isinstance(router, Router)
    return {f"/api{route.path_format}" for route in router.routes if isinstance(route, Route)}


def test_the_openapi_document_is_valid_and_lists_every_admin_path(luthien: LuthienServer) -> None:
    response = httpx.get(f"{luthien.base_url}/api/openapi.json")

    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == api_paths(luthien)
    assert {
        "/api/transactions",
        "/api/transactions/{transaction_id}",
        "/api/sessions",
        "/api/sessions/{session_id}",
        "/api/activity/stream",
        "/api/policies",
        "/api/policy",
        "/api/export",
    } <= set(document["paths"])


def test_an_unknown_api_path_or_method_is_a_json_error(luthien: LuthienServer) -> None:
    missing = httpx.get(f"{luthien.base_url}/api/nothing-here")
    wrong_method = httpx.delete(f"{luthien.base_url}/api/policies")

    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "method_not_allowed_error"
