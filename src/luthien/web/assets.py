"""The web UI's static files, served under names that carry a hash of their content.

`app.css` is served as `/ui/static/app.<hash>.css` with `Cache-Control: public, max-age=31536000,
immutable`: a browser keeps it for a year, and a new release changes the name. Files are read once at
startup; any other name (an old hash included) is a 404.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/ui/static/"
HASH_CHARS = 12
IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file: its bytes, content type and fingerprinted name."""

    content: bytes
    content_type: str
    served_name: str


def fingerprinted(name: str, content: bytes) -> str:
    """`app.css` → `app.<first 12 hex of sha256>.css`."""
    digest = hashlib.sha256(content).hexdigest()[:HASH_CHARS]
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"


class AssetCatalog:
    """Every file of the static directory, by logical and by served name."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._by_name: dict[str, Asset] = {}
        self._by_served: dict[str, Asset] = {}
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            content = path.read_bytes()
            content_type = (
                _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            asset = Asset(content, content_type, fingerprinted(path.name, content))
            self._by_name[path.name] = asset
            self._by_served[asset.served_name] = asset

    def url(self, name: str) -> str:
        """The URL of a static file by its plain name.

        Raises:
            KeyError: no such file (a template names a file that does not exist).
        """
        return STATIC_PREFIX + self._by_name[name].served_name

    async def serve(self, request: Request) -> Response:
        """`GET /ui/static/{name}`: the file, cacheable forever, or 404."""
        asset = self._by_served.get(str(request.path_params["name"]))
        if asset is None:
            return Response(
                "not found", status_code=404, media_type="text/plain", headers={"cache-control": "no-store"}
            )
        headers = {"cache-control": IMMUTABLE, "x-content-type-options": "nosniff"}
        return Response(asset.content, media_type=asset.content_type, headers=headers)
