"""The `luthien` command: `serve` runs the gateway; `settings-docs` regenerates settings docs."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from luthien import settings_docs
from luthien.config import ConfigError
from luthien.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from luthien.gateway.app import create_app

    try:
        settings = Settings()
        overrides = {
            key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None
        }
        settings = settings.model_copy(update=overrides)
        app = create_app(settings)
    except (ValidationError, ConfigError) as error:
        print(f"luthien: invalid configuration: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
    )
    return 0


def _settings_docs(args: argparse.Namespace) -> int:
    if args.write:
        settings_docs.write(Path(args.root))
    else:
        print(settings_docs.markdown_table())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `luthien` console script."""
    parser = argparse.ArgumentParser(prog="luthien", description="Luthien AI-control proxy")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="override LUTHIEN_HOST")
    serve.add_argument("--port", type=int, help="override LUTHIEN_PORT")
    serve.set_defaults(handler=_serve)
    docs = commands.add_parser("settings-docs", help="print or rewrite the settings documentation")
    docs.add_argument("--write", action="store_true", help="rewrite README.md and .env.example")
    docs.add_argument("--root", default=".", help="repository root (default: current directory)")
    docs.set_defaults(handler=_settings_docs)
    args = parser.parse_args(argv)
    return int(args.handler(args))
