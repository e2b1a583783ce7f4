"""`luthien eval`: a configured policy (or two, side by side) on a labelled corpus.

```sh
LUTHIEN_CONFIG=luthien.yaml luthien eval --policy block_commands --corpus evals/tool_calls.jsonl
luthien eval --compare block_commands judge --corpus evals/tool_calls.jsonl --json out.json
```

Policies come from the config file (`LUTHIEN_CONFIG`), exactly as `luthien serve` builds them, plus
the registered short names; judges call the upstreams the config defines, with their keys. The table
goes to stdout, progress to stderr, the full report (every item's outcome) to `--json PATH`.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson
from pydantic import ValidationError

from luthien.config import ConfigError, LuthienConfig, load_config
from luthien.evaluation.corpus import Corpus, CorpusError, load_corpus
from luthien.evaluation.report import PolicyReport, render_table
from luthien.evaluation.runner import DEFAULT_CONCURRENCY, evaluate
from luthien.policy.base import Policy
from luthien.policy.registry import REGISTERED, SUGGESTION_CUTOFF, build_policies
from luthien.settings import Settings
from luthien.upstream.breaker import Breakers
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router

EXIT_USAGE = 2
PROGRESS_STEPS = 10
"""Progress lines written when stderr is not a terminal (one per tenth of the corpus)."""


def add_eval_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add `eval` to the `luthien` parser."""
    parser = commands.add_parser("eval", help="measure a policy on a labelled corpus of tool calls")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--policy", metavar="NAME", help="the policy to evaluate (configured or registered name)"
    )
    which.add_argument("--compare", nargs=2, metavar=("A", "B"), help="evaluate two policies side by side")
    parser.add_argument(
        "--corpus", required=True, type=Path, help="the JSONL corpus (e.g. evals/tool_calls.jsonl)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the full report as JSON")
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        help="items evaluated at once (default: 8)",
    )
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N items")
    parser.set_defaults(handler=run_eval_command)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class ProgressLine:
    """`eval NAME: done/total` on stderr: rewritten in place on a terminal, a line per tenth otherwise."""

    def __init__(self, name: str, stream: TextIO) -> None:
        self._name = name
        self._stream = stream
        self._tty = stream.isatty()
        self._next_step = 1

    def __call__(self, done: int, total: int) -> None:
        """Report `done` of `total` items."""
        if self._tty:
            end = "\n" if done == total else ""
            self._stream.write(f"\reval {self._name}: {done}/{total}{end}")
        elif done * PROGRESS_STEPS >= self._next_step * total:
            self._next_step = done * PROGRESS_STEPS // total + 1
            self._stream.write(f"eval {self._name}: {done}/{total}\n")
        self._stream.flush()


def select_policies(config: LuthienConfig, names: list[str]) -> dict[str, Policy[Any]]:
    """The named policies, built from the config or the registered names.

    Raises:
        ConfigError: a name that is neither configured nor registered (with a suggestion).
    """
    unknown = [name for name in names if name not in config.policies and name not in REGISTERED]
    if unknown:
        configured = ", ".join(sorted(config.policies)) or "(none)"
        close = difflib.get_close_matches(
            unknown[0], [*config.policies, *REGISTERED], n=1, cutoff=SUGGESTION_CUTOFF
        )
        raise ConfigError(
            f"unknown policy {unknown[0]!r}; configured policies: {configured}; "
            f"registered: {', '.join(sorted(REGISTERED))}",
            problem="unknown_policy",
            suggestion=close[0] if close else None,
        )
    built: dict[str, Policy[Any]] = {}
    for name in names:
        built.update(build_policies(config, name))
    return {name: built[name] for name in names}


async def _run(
    settings: Settings,
    config: LuthienConfig,
    policies: dict[str, Policy[Any]],
    corpus: Corpus,
    concurrency: int,
) -> list[PolicyReport]:
    client = UpstreamClient(settings)
    await client.start()
    try:
        breakers = Breakers(client, settings.breaker_failures, settings.breaker_cooldown_s)
        models = ModelCaller(Router(config), breakers)
        reports: list[PolicyReport] = []
        for name, policy in policies.items():
            progress = ProgressLine(name, sys.stderr)
            outcomes = await evaluate(policy, name, corpus.items, models, concurrency, progress)
            reports.append(PolicyReport(name, tuple(outcomes)))
        return reports
    finally:
        await client.close()


def run_eval_command(args: argparse.Namespace) -> int:
    """The `eval` handler: 0 on success, 2 when the config, a policy name or the corpus is unusable."""
    names: list[str] = list(args.compare) if args.compare else [args.policy]
    if len(set(names)) < len(names):
        print(
            f"luthien eval: --compare needs two different policies, got {names[0]!r} twice", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        settings = Settings()
        config = load_config(settings.config).with_builtins(settings)
        policies = select_policies(config, names)
        corpus = load_corpus(args.corpus, args.limit)
    except ValidationError as error:
        print(f"luthien eval: invalid settings: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, CorpusError) as error:
        print(f"luthien eval: {error}", file=sys.stderr)
        return EXIT_USAGE
    reports = asyncio.run(_run(settings, config, policies, corpus, args.concurrency))
    sys.stdout.write(render_table(str(args.corpus), reports))
    if args.json is not None:
        document = {
            "corpus": str(args.corpus),
            "items": len(corpus.items),
            "policies": [report.to_json() for report in reports],
        }
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return 0
