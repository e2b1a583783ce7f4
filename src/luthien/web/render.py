"""Rendering pages: the Jinja2 environment (autoescaping on), template helpers, security headers.

Every page is sent with `Cache-Control: no-store` and a Content-Security-Policy that allows scripts,
styles and connections from this server only (no inline script or style), no plugins, no framing.
Model output and tool arguments reach templates as data and are escaped like all data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from luthien import __version__
from luthien.admin.guard import csrf_token_of, principal_of
from luthien.web.assets import AssetCatalog
from luthien.web.markdown import render_markdown

TEMPLATE_DIR = Path(__file__).parent / "templates"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
NAV = (
    ("activity", "Activity"),
    ("history", "History"),
    ("sessions", "Sessions"),
    ("replays", "Replays"),
    ("policies", "Policies"),
    ("approvals", "Approvals"),
)
MS_PER_SECOND = 1000


def format_time(epoch: float | None) -> str:
    """UTC date-time for a page (the browser rewrites it in local time)."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(epoch: float | None) -> str:
    """ISO 8601 (for `<time datetime>`)."""
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def format_ms(value: float | None) -> str:
    """`340 ms`, `2.41 s`, or a dash."""
    if value is None:
        return "—"
    if value < MS_PER_SECOND:
        return f"{value:.0f} ms"
    return f"{value / MS_PER_SECOND:.2f} s"


def format_count(value: int | None) -> str:
    """A token count with thousands separators, or a dash."""
    return "—" if value is None else f"{value:,}"


def pretty_json(value: Any) -> str:
    """Indented JSON text (escaped by the template like any text)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")


class Renderer:
    """Renders templates into pages with the shared layout context and headers."""

    def __init__(self, assets: AssetCatalog, active_policy: Callable[[], str]) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        layout: dict[str, Any] = {"asset": assets.url, "nav": NAV, "version": __version__}
        self.env.globals.update(layout)
        self.env.filters.update(
            time=format_time,
            iso=iso_time,
            ms=format_ms,
            count=format_count,
            json=pretty_json,
            markdown=render_markdown,
        )
        self._active_policy = active_policy

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        """A whole page."""
        principal = principal_of(request)
        html = self.env.get_template(template).render(
            request=request,
            path=request.url.path,
            principal=principal,
            csrf_token=csrf_token_of(request),
            active_policy=self._active_policy(),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
