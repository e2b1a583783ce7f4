"""`luthien replay`: recorded calls through a configured policy, offline, compared with what happened.

```sh
LUTHIEN_CONFIG=luthien.yaml luthien replay --policy block_commands --since 2026-11-30 --limit 500
luthien replay --policy judge --session 3f2a... --filter status=ok,model=claude-sonnet-4-6 --json out.json
```

Records are read from `LUTHIEN_DATABASE_URL` (migrated to the newest schema first); policies and
judge upstreams come from the config like `luthien serve` builds them. The summary table goes to
stdout, progress to stderr (a bar on a terminal, a line per tenth otherwise), the run and every
call's outcome to `--json PATH`. The run is stored; the server's `/ui/replays` shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson
from pydantic import ValidationError

from luthien.config import ConfigError, LuthienConfig, load_config
from luthien.evaluation.command import EXIT_USAGE, PROGRESS_STEPS, positive_int, select_policies
from luthien.evaluation.runner import DEFAULT_CONCURRENCY
from luthien.policy.base import Policy
from luthien.records.query import InvalidQuery
from luthien.settings import Settings

if TYPE_CHECKING:
    from luthien.replay.run import ReplaySpec

EXIT_DATABASE_ERROR = 1
_STATUS_SEPARATORS = re.compile(r"[+|]")
"""Several statuses in one `--filter`: `status=ok+changed` (commas separate the pairs)."""
BAR_WIDTH = 30


def add_replay_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add `replay` to the `luthien` parser."""
    parser = commands.add_parser("replay", help="run recorded calls through a policy and compare")
    parser.add_argument("--policy", required=True, metavar="NAME", help="configured or registered policy")
    parser.add_argument("--session", metavar="ID", help="only this agent session")
    parser.add_argument("--since", metavar="ISO", help="received at or after (ISO 8601 or epoch seconds)")
    parser.add_argument("--until", metavar="ISO", help="received before")
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="K=V,...",
        help="more filters: status (several as ok+changed), model, policy (at the time), event_type, blocked",
    )
    parser.add_argument("--limit", type=positive_int, help="at most N calls, oldest first")
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        help="calls replayed at once (default: 8)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the run and every outcome as JSON"
    )
    parser.add_argument("--url", help="the records database (default: LUTHIEN_DATABASE_URL)")
    parser.set_defaults(handler=run_replay_command)


class ProgressBar:
    """`replay NAME [####....] done/total` on stderr, in place on a terminal; a line per tenth otherwise."""

    def __init__(self, name: str, stream: TextIO) -> None:
        self._name = name
        self._stream = stream
        self._tty = stream.isatty()
        self._next_step = 1

    def __call__(self, done: int, total: int | None) -> None:
        """Report `done` of `total` calls."""
        whole = max(total or done, 1)
        if self._tty:
            filled = BAR_WIDTH * done // whole
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            end = "\n" if done >= whole else ""
            self._stream.write(f"\rreplay {self._name} [{bar}] {done}/{whole}{end}")
        elif done * PROGRESS_STEPS >= self._next_step * whole:
            self._next_step = done * PROGRESS_STEPS // whole + 1
            self._stream.write(f"replay {self._name}: {done}/{whole}\n")
        self._stream.flush()


def _filters(args: argparse.Namespace) -> dict[str, str]:
    """`--session/--since/--until` and every `--filter k=v,k=v` (a status list is `a+b`)."""
    filters: dict[str, str] = {}
    for text in args.filter:
        for pair in str(text).split(","):
            if not pair.strip():
                continue
            key, sep, value = pair.partition("=")
            if not sep:
                raise InvalidQuery("filter", f"filter: expected key=value, got {pair!r}")
            name, value = key.strip(), value.strip()
            filters[name] = _STATUS_SEPARATORS.sub(",", value) if name == "status" else value
    for name in ("session", "since", "until"):
        value = getattr(args, name)
        if value is not None:
            filters[name] = value
    return filters


async def _replay(
    settings: Settings, config: LuthienConfig, url: str, spec: ReplaySpec, policy: Policy[Any]
) -> tuple[dict[str, Any], str]:
    from luthien.replay.report import outcome_json, render_table, run_json
    from luthien.replay.run import run_replay
    from luthien.replay.store import Prices, SqlReplayStore
    from luthien.storage.engine import DatabaseSettings, create_engine
    from luthien.storage.migrate import upgrade
    from luthien.storage.queries import SqlRecordStore
    from luthien.upstream.breaker import Breakers
    from luthien.upstream.caller import ModelCaller
    from luthien.upstream.client import UpstreamClient
    from luthien.upstream.routing import Router

    engine = create_engine(DatabaseSettings(url=url, timeout_s=settings.database_timeout_s))
    client = UpstreamClient(settings)
    await client.start()
    try:
        await upgrade(engine)
        prices = Prices(settings.judge_input_usd_per_mtok, settings.judge_output_usd_per_mtok)
        replays = SqlReplayStore(engine, prices)
        breakers = Breakers(client, settings.breaker_failures, settings.breaker_cooldown_s)
        models = ModelCaller(Router(config), breakers)
        progress = ProgressBar(spec.policy, sys.stderr)
        result = await run_replay(spec, policy, SqlRecordStore(engine), replays, models, progress=progress)
        run = await replays.get_run(result.run_id)
        assert run is not None  # written by run_replay just now
        document = {
            **run_json(run),
            "items": [outcome_json(seq, outcome) for seq, outcome in enumerate(result.outcomes)],
        }
        return document, render_table(run, result.outcomes)
    finally:
        await client.close()
        await engine.dispose()


def run_replay_command(args: argparse.Namespace) -> int:
    """The `replay` handler: 0 on success, 2 for unusable arguments or config, 1 for a database failure."""
    # Imported here so that other `luthien` commands do not load SQLAlchemy.
    from sqlalchemy.exc import SQLAlchemyError

    from luthien.replay.run import parse_spec
    from luthien.storage.engine import DatabaseUrlError, async_url

    try:
        settings = Settings()
        config = load_config(settings.config).with_builtins(settings)
        policy = select_policies(config, [args.policy])[args.policy]
        spec = parse_spec(args.policy, _filters(args), args.limit, args.concurrency)
        url = args.url or settings.database_url
        async_url(url)
    except ValidationError as error:
        print(f"luthien replay: invalid settings: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, DatabaseUrlError) as error:
        print(f"luthien replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidQuery as error:
        print(f"luthien replay: --{_option(error.field)}: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        document, table = asyncio.run(_replay(settings, config, url, spec, policy))
    except (SQLAlchemyError, OSError) as error:
        print(f"luthien replay: database error: {error}", file=sys.stderr)
        return EXIT_DATABASE_ERROR
    sys.stdout.write(table)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def _option(field: str) -> str:
    """The option a bad field came from."""
    return field if field in ("session", "since", "until", "limit", "concurrency") else "filter"
