"""Luthien benchmark: the same load direct, through a bare byte relay and through Luthien, in one run.

Beside Luthien with no policy, by default also Luthien with `string_replace` and Luthien on routes
translated to an upstream of another API (`--variants`); on request Luthien with several workers
(`--workers N`) and peer proxies (`--peers litellm`).

`python bench/run.py` (or `make bench`) starts `bench/fake_upstream.py`, `bench/relay.py` and the
`luthien serve` processes on loopback ports, drives each with `wrk` (POST bodies from
`bench/post.lua`) on the three client APIs, prints tables with the ratios and the issues' targets,
and writes `bench/results/latest.json`. Every process it starts is stopped on exit, including on
Ctrl-C. `--smoke` checks in a few seconds that all of it works (a Python load generator, no `wrk`).
The parts: `processes.py`, `load.py`, `scenarios.py`, `variants.py`, `peers.py`, `servers.py`,
`checks.py`, `report.py`. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from processes import (
    RESULTS_DIR,
    ROOT,
    VENV_PYTHON,
    WRK_INSTALL_HINT,
    Processes,
    _raise_on_signal,
    cpu_layout,
)
from report import print_table
from servers import run_all
from variants import VARIANTS

SMOKE_DURATION_S = 0.5
"""Seconds per measurement with `--smoke`: long enough for a few calls of every scenario."""
SMOKE_CONNECTIONS = 4


# ---------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per scenario and target, interleaved; the median run is reported (default 1)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="seconds of discarded load per target, endpoint and streaming or not (default 1)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help="connections for throughput runs (default 32, as in issue 11's targets)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--deltas", type=int, default=20, help="text deltas per stream (default 20)")
    parser.add_argument("--ttft-deltas", type=int, default=5, help="text deltas per TTFT stream (default 5)")
    parser.add_argument(
        "--ttft-delay-ms", type=float, default=5.0, help="pause before each delta in the TTFT run (default 5)"
    )
    parser.add_argument(
        "--pin",
        choices=("auto", "off"),
        default="off",
        help="off: the scheduler places processes (default); auto: the server under test gets the "
        "last CPU, wrk and everything else the others",
    )
    parser.add_argument(
        "--scenarios",
        default="default",
        help="'default' (every endpoint at --connections, streaming and not, plus Messages at 1 "
        "connection and its time to first token), 'all' (also Chat's and Responses' 1-connection and "
        "time-to-first-token scenarios), or a comma-separated list of scenario names",
    )
    parser.add_argument(
        "--proxy-cmd",
        default=f"{ROOT / '.venv' / 'bin' / 'luthien'} serve",
        help="command that serves Luthien; {port}, {host} and {python} are substituted "
        "(default: .venv/bin/luthien serve, port from LUTHIEN_PORT)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also measure Luthien with this many workers (LUTHIEN_WORKERS), beside one (default 1: not)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated Luthien variants measured beside noop on the throughput scenarios: "
        "string_replace (the policy), translated (no policy, every call translated to another API); "
        f"default {','.join(VARIANTS)}, '' for none",
    )
    parser.add_argument(
        "--peers",
        default="",
        help="comma-separated peer proxies measured in front of the same fake: litellm (`make bench-peers`)",
    )
    parser.add_argument("--no-relay", dest="relay", action="store_false", help="skip the bare byte relay")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a check that everything runs: {SMOKE_DURATION_S:g} s per measurement, no warm-up, "
        f"{SMOKE_CONNECTIONS} connections, a Python load generator instead of wrk (figures meaningless)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / "latest.json",
        help="JSON results file (default results/latest.json)",
    )
    args = parser.parse_args(argv)
    args.peers = [peer.strip() for peer in args.peers.split(",") if peer.strip()]
    args.variants = [variant.strip() for variant in args.variants.split(",") if variant.strip()]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    if args.smoke:
        args.duration, args.warmup, args.repeat = SMOKE_DURATION_S, 0.0, 1
        args.connections = min(args.connections, SMOKE_CONNECTIONS)
    return args


def _reexec_in_venv() -> None:
    """Re-run under the project's virtualenv, whose packages the fake, the client and the report use."""
    venv = ROOT / ".venv"
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit status."""
    args = parse_args(argv)
    if shutil.which("wrk") is None and not args.smoke:
        print(WRK_INSTALL_HINT, file=sys.stderr)
        return 2
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(exist_ok=True)
    layout = cpu_layout(args.pin)
    if layout.load is not None:
        # This script (the TTFT client) runs with the load generator.
        os.sched_setaffinity(0, layout.load)
    # Ctrl-C raises KeyboardInterrupt even when a parent started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_on_signal)
    processes = Processes(log_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="luthien-bench-") as body_dir:
            result = run_all(processes, args, layout, Path(body_dir))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"results written to {_display(args.output)}; server logs in {_display(log_dir)}")
    return 0


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


if __name__ == "__main__":
    _reexec_in_venv()
    sys.exit(main())
