"""The `luthien` command.

`serve` runs the gateway; `policies` lists the registered policies; `check-config FILE` validates a
config; `new-policy NAME` scaffolds a policy, its config and its test; `settings-docs` prints or
rewrites the settings documentation; `db` migrates the records database (`luthien.storage.commands`);
`eval` measures a policy on a labelled corpus (`luthien.evaluation.command`); `replay` runs recorded
calls through a policy and compares (`luthien.replay.command`); `approvals` lists and decides held
tool calls (`luthien.approvals.command`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from luthien import settings_docs
from luthien.approvals.command import add_approvals_command
from luthien.config import ConfigError, load_config
from luthien.evaluation.command import add_eval_command
from luthien.replay.command import add_replay_command
from luthien.settings import Settings
from luthien.storage.commands import add_db_commands

logger = logging.getLogger("luthien")


def _serve(args: argparse.Namespace) -> int:
    from luthien.gateway.app import create_app
    from luthien.gateway.serving import serve
    from luthien.storage.engine import DatabaseUrlError

    try:
        settings = Settings()
        overrides = {
            key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None
        }
        settings = settings.model_copy(update=overrides)
        app = create_app(settings)
    except (ValidationError, ConfigError, DatabaseUrlError) as error:
        print(f"luthien: invalid configuration: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    log_startup(settings, app.state.gateway.policies.active)
    serve(app, settings)
    return 0


def log_startup(settings: Settings, active_policy: str) -> None:
    """Log which config file the server read and which policy serves calls."""
    config_file = str(settings.config) if settings.config else None
    logger.info(
        "config file: %s; active policy: %s",
        config_file or "(none)",
        active_policy,
        extra={"config_file": config_file, "active_policy": active_policy},
    )


def _settings_docs(args: argparse.Namespace) -> int:
    if args.write:
        settings_docs.write(Path(args.root))
    else:
        print(settings_docs.markdown_table())
    return 0


def _policies(args: argparse.Namespace) -> int:
    from luthien.policy.registry import REGISTERED, resolve_class

    for name in sorted(REGISTERED):
        cls = resolve_class(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name}: {summary}")
        if args.schema:
            print(json.dumps(cls.config_model.model_json_schema(), indent=2))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from luthien.policy.registry import active_policy_name, build_policies

    try:
        config = load_config(Path(args.file))
        active = active_policy_name(config, None)
        policies = build_policies(config, active)
    except ConfigError as error:
        print(f"luthien: {error}", file=sys.stderr)
        return 2
    print(
        f"{args.file}: ok ({len(config.upstreams)} upstreams, {len(config.routes)} routes, "
        f"policies: {', '.join(sorted(policies))}; active: {active})"
    )
    return 0


def _new_policy(args: argparse.Namespace) -> int:
    from luthien.scaffold import ScaffoldError, write_scaffold

    try:
        scaffold = write_scaffold(args.name, Path(args.dir))
    except ScaffoldError as error:
        print(f"luthien: {error}", file=sys.stderr)
        return 2
    print(f"wrote {scaffold.module}, {scaffold.config}, {scaffold.test}")
    print(f"next: python -m pytest {scaffold.test.name} --policy={scaffold.reference}")
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
    policies = commands.add_parser("policies", help="list the registered policies")
    policies.add_argument("--schema", action="store_true", help="also print each config's JSON schema")
    policies.set_defaults(handler=_policies)
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file", help="path to the YAML config")
    check.set_defaults(handler=_check_config)
    new = commands.add_parser("new-policy", help="scaffold a policy module, a config snippet and a test")
    new.add_argument("name", help="the module name, e.g. redact_secrets")
    new.add_argument("--dir", default=".", help="where to write (default: current directory)")
    new.set_defaults(handler=_new_policy)
    add_db_commands(commands)
    add_eval_command(commands)
    add_replay_command(commands)
    add_approvals_command(commands)
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here rather than at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (`luthien policies --schema | head`): stop quietly. Python would
        # report the pipe again when it flushes stdout at exit, so point stdout at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
