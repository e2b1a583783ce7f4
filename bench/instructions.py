"""Luthien's cost per call as instructions (callgrind) or CPU time: a figure a busy host cannot move.

On a machine shared with other work, requests per second swing by a factor of 2 between runs of the same
build; the number of instructions one server process executes to serve a fixed set of requests does
not (runs repeat within about 1 %). This script serves a fixed number of calls through one
`luthien serve` and divides what that process executed by the number of calls:

```sh
.venv/bin/python bench/instructions.py                                 # every scenario, noop
.venv/bin/python bench/instructions.py --policies noop,string_replace --scenarios messages_stream
.venv/bin/python bench/instructions.py --policies string_replace,translated --scenarios messages_stream
.venv/bin/python bench/instructions.py --src /tmp/before/src           # another source tree (A/B)
.venv/bin/python bench/instructions.py --records sqlite              # recording on (or postgresql)
.venv/bin/python bench/instructions.py --tool cpu                      # CPU µs per call, no valgrind
.venv/bin/python bench/instructions.py --wrk-ab /tmp/before/src        # interleaved wrk A/B runs
.venv/bin/python bench/instructions.py upstream 8990                   # the fake upstream alone
```

- `--tool callgrind` (default): Luthien starts under `valgrind --tool=callgrind` uninstrumented (a
  start-up at nearly native speed); `callgrind_control` then turns instrumentation on, and after
  each scenario's warm-up zeroes the counters, and dumps them after the measured calls. The dump
  files are kept (`--out`), so `callgrind_annotate` shows where the instructions went (C functions;
  use py-spy for Python).
- `--tool cpu`: the server's user + system CPU time over the measured calls (from `/proc`).
- `--wrk-ab DIR`: two servers (this tree and the tree at DIR) in front of one fake upstream; `wrk`
  alternates between them (`--rounds` times per scenario) and the medians are compared
  (`instructions_ab.py`).

The upstream is a fake of its own (`instructions_setup.py`: aiohttp on uvloop), which answers the
three APIs (`/v1/messages`, `/v1/chat/completions`, `/v1/responses`) with replies built by
`luthien.testing.streams` and precomputed at start-up: 20 text deltas per stream, one write per
SSE frame. Under callgrind, Luthien runs ~50 times slower than the upstream, so a stream's frames tend to
arrive together in one read: the counts are those of a loaded server (where the same happens), and
changes that pay per read (one write per read) look their best here. `--delay-ms` paces the frames.

`--policies` names what each server runs (`bench/variants.py`): `noop`; `string_replace`, which
replaces the word `fake` (twice in each reply), so its streams are decoded, changed and re-encoded;
`translated`, no policy but every call translated (a Messages client served by an `openai-chat`
upstream, Chat and Responses clients by an `anthropic` one). With both `string_replace` and
`translated`, the ratio of their costs per scenario is printed at the end (issue 10: a translated
streaming call at most 1.5 times a same-API `string_replace` call). Calls go without recording
(`LUTHIEN_RECORDS=off`), as in docs/performance.md's non-streaming regression figures, unless
`--records sqlite` or `--records postgresql` (`bench/records_db.py`: a fresh database per server);
then each count also waits for the writer to have stored every call served so far (before zeroing
and before dumping), so a call's record is written in its own window.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from instructions_ab import wrk_ab
from instructions_setup import (
    HOST,
    ROOT,
    SCENARIOS,
    VENV_PYTHON,
    free_port,
    luthien_env,
    run_load,
    serve_upstream,
    start_luthien,
    start_upstream,
    stop,
)
from records_db import RECORDS_CHOICES, drop_records_database, recording_env, records_database, wait_stored
from variants import VARIANTS, variant_env

CONTROL_TIMEOUT_S = 120.0
POLICIES = ("noop", *VARIANTS)
TARGET_TRANSLATED_RATIO = 1.5
"""Issue 10: a translated streaming call's cost / a same-API `string_replace` call's."""


# -- counting -----------------------------------------------------------------------------------------


def callgrind_control(*args: str) -> None:
    """Run `callgrind_control` (it waits until the server acknowledged the command)."""
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=CONTROL_TIMEOUT_S)


_TOTALS = re.compile(rb"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def dumped_instructions(out_dir: Path, before: set[Path]) -> tuple[int, Path]:
    """The instruction total of the dump file that appeared since `before`."""
    deadline = time.monotonic() + CONTROL_TIMEOUT_S
    while time.monotonic() < deadline:
        new = sorted(set(out_dir.glob("callgrind.out*")) - before)
        for path in new:
            match = _TOTALS.search(path.read_bytes())
            if match:
                return int(match.group(1)), path
        time.sleep(0.2)
    sys.exit("callgrind wrote no dump")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(args: argparse.Namespace, policy: str, out_dir: Path) -> list[dict[str, Any]]:
    """Every chosen scenario through one server running `policy` (noop or a variant)."""
    upstream_port, port = free_port(), free_port()
    variant = {} if policy == "noop" else variant_env(policy, out_dir, f"http://{HOST}:{upstream_port}")
    database_url = records_database(args.records, out_dir, policy)
    variant = {**variant, **recording_env(database_url)}
    served = 0
    wrapper: list[str] = []
    if args.tool == "callgrind":
        wrapper = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out_dir}/callgrind.out.%p",
        ]
    upstream = start_upstream(upstream_port, out_dir / "upstream.log")
    results: list[dict[str, Any]] = []
    try:
        env = luthien_env(port, upstream_port, args.src, variant)
        luthien = start_luthien(port, env, out_dir / f"luthien-{policy}.log", wrapper)
        try:
            base = f"http://{HOST}:{port}"
            if args.tool == "callgrind":
                callgrind_control("--instr=on", str(luthien.pid))
            for name in args.scenarios:
                scenario = SCENARIOS[name]
                run_load(base, scenario, args.warmup, args.concurrency, args.delay_ms)
                served += args.warmup
                wait_stored(database_url, served)
                served += args.requests
                if args.tool == "callgrind":
                    before = set(out_dir.glob("callgrind.out*"))
                    callgrind_control("--zero", str(luthien.pid))
                    run_load(base, scenario, args.requests, args.concurrency, args.delay_ms)
                    wait_stored(database_url, served)
                    callgrind_control("--dump", str(luthien.pid))
                    total, path = dumped_instructions(out_dir, before)
                    target = out_dir / f"callgrind.{policy}.{name}"
                    path.rename(target)
                    cost, unit = total / args.requests, "instructions/call"
                else:
                    start = cpu_seconds(luthien.pid)
                    run_load(base, scenario, args.requests, args.concurrency, args.delay_ms)
                    wait_stored(database_url, served)
                    cost, unit = (cpu_seconds(luthien.pid) - start) / args.requests * 1e6, "CPU µs/call"
                results.append(
                    {
                        "policy": policy,
                        "records": args.records,
                        "scenario": name,
                        "per_call": cost,
                        "unit": unit,
                    }
                )
                print(f"{policy:15} {args.records:10} {name:18} {cost:12,.0f} {unit}", flush=True)
        finally:
            stop(luthien)
    finally:
        stop(upstream)
        drop_records_database(database_url)
    return results


def translated_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scenario measured both ways: the translated call's cost / the `string_replace` call's."""
    cost = {(r["policy"], r["scenario"]): r["per_call"] for r in results if "per_call" in r}
    ratios: list[dict[str, Any]] = []
    for (policy, scenario), translated in cost.items():
        same_api = cost.get(("string_replace", scenario))
        if policy == "translated" and same_api:
            ratio = translated / same_api
            ratios.append({"scenario": scenario, "translated/string_replace": ratio})
            # The target is about streaming calls; a non-streaming call's ratio is shown for context.
            met = "met" if ratio <= TARGET_TRANSLATED_RATIO else "MISSED"
            verdict = f" (target <= {TARGET_TRANSLATED_RATIO:g}: {met})" if SCENARIOS[scenario].stream else ""
            print(f"translated / string_replace  {scenario:18} x{ratio:.2f}{verdict}")
    return ratios


def main() -> None:
    """Entry point."""
    if len(sys.argv) == 3 and sys.argv[1] == "upstream":
        serve_upstream(int(sys.argv[2]))
        return
    if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the source tree to measure")
    parser.add_argument("--policies", default="noop", help=f"comma-separated: {', '.join(POLICIES)}")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--requests", type=int, default=1000, help="measured calls per scenario")
    parser.add_argument("--warmup", type=int, default=100, help="calls before measuring")
    parser.add_argument("--records", choices=RECORDS_CHOICES, default="off", help="where calls are recorded")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause before each upstream frame")
    parser.add_argument("--tool", choices=("callgrind", "cpu"), default="callgrind")
    parser.add_argument("--wrk-ab", type=Path, help="source tree to compare against with wrk, interleaved")
    parser.add_argument("--rounds", type=int, default=4, help="wrk runs of each server per scenario")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--out", type=Path, help="where dumps and logs go (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    args.scenarios = [name for name in args.scenarios.split(",") if name]
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenarios: {unknown}; known: {list(SCENARIOS)}")
    policies = [policy for policy in args.policies.split(",") if policy]
    if unknown := [policy for policy in policies if policy not in POLICIES]:
        sys.exit(f"unknown policies: {unknown}; known: {list(POLICIES)}")
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="luthien-instructions-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for policy in policies:
        if args.wrk_ab is not None:
            results.extend(wrk_ab(args, policy, out_dir))
        else:
            results.extend(measure(args, policy, out_dir))
    ratios = translated_ratios(results)
    print(f"dumps and logs: {out_dir}")
    if args.json is not None:
        args.json.write_text(json.dumps({"results": results, "translated_ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
