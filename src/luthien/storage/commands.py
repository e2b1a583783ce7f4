"""`luthien db upgrade|downgrade|current`: the records migrations from the command line.

They act on `LUTHIEN_DATABASE_URL` (or `--url`), like the server, which also upgrades at startup.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from luthien.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# Exit codes: 1 the database failed, 2 the configuration is wrong (as `luthien serve`).
EXIT_DATABASE_ERROR = 1
EXIT_CONFIG_ERROR = 2


def add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `db` command and its subcommands to the `luthien` parser."""
    db = commands.add_parser("db", help="migrate the records database (LUTHIEN_DATABASE_URL)")
    db.add_argument("--url", help="database URL (default: LUTHIEN_DATABASE_URL)")
    actions = db.add_subparsers(dest="db_command", required=True)
    up = actions.add_parser("upgrade", help="migrate up (default: to the newest revision)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_upgrade)
    down = actions.add_parser("downgrade", help="migrate down (default: one revision; `base`: drop all)")
    down.add_argument("revision", nargs="?", default="-1")
    down.set_defaults(handler=_downgrade)
    current = actions.add_parser("current", help="print the database's revision and the newest one")
    current.set_defaults(handler=_current)


def _with_engine(args: argparse.Namespace, action: Callable[[AsyncEngine], Awaitable[str]]) -> int:
    # Imported here so that other `luthien` commands do not load SQLAlchemy and Alembic.
    from sqlalchemy.exc import SQLAlchemyError

    from luthien.storage.engine import DatabaseSettings, DatabaseUrlError, create_engine

    settings = Settings()
    url = args.url or settings.database_url
    try:
        engine = create_engine(DatabaseSettings(url=url, timeout_s=settings.database_timeout_s))
    except DatabaseUrlError as error:
        print(f"luthien: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    async def run() -> str:
        try:
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        print(asyncio.run(run()))
    except (SQLAlchemyError, OSError) as error:
        print(f"luthien: database error: {error}", file=sys.stderr)
        return EXIT_DATABASE_ERROR
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    from luthien.storage.migrate import current_revision, upgrade

    async def action(engine: AsyncEngine) -> str:
        await upgrade(engine, args.revision)
        return f"database at revision {await current_revision(engine) or '(none)'}"

    return _with_engine(args, action)


def _downgrade(args: argparse.Namespace) -> int:
    from luthien.storage.migrate import current_revision, downgrade

    async def action(engine: AsyncEngine) -> str:
        await downgrade(engine, args.revision)
        return f"database at revision {await current_revision(engine) or '(none)'}"

    return _with_engine(args, action)


def _current(args: argparse.Namespace) -> int:
    from luthien.storage.migrate import current_revision, head_revision

    async def action(engine: AsyncEngine) -> str:
        return f"current: {await current_revision(engine) or '(none)'}\nhead: {head_revision()}"

    return _with_engine(args, action)
