"""The results document (`bench/results/latest.json`) and the printed tables.

The first table compares Luthien (no policy) with a direct call; the second shows every target side by
side with its ratio to the bare relay; then each of the issues' targets (`checks.py`), met or missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from checks import evaluate
from load import Measurement
from processes import (
    NOISY_CALIBRATION,
    NOISY_CPU,
    ROOT,
    VENV_PYTHON,
    VERSIONED_PACKAGES,
    CpuLayout,
)
from scenarios import Comparison


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's best guess)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    versions: dict[str, str] = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        versions["wrk"] = wrk.stdout.split()[1]
    return versions


def _git(*args: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=10)
        if done.returncode == 0:
            return done.stdout.strip()
    return None


def source_info() -> dict[str, Any]:
    """Which Luthien code was measured: the git commit, whether src/ differs from it, the package path."""
    status = _git("status", "--porcelain", "--", "src")
    package = subprocess.run(
        [
            str(VENV_PYTHON if VENV_PYTHON.exists() else sys.executable),
            "-c",
            "import luthien; print(luthien.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    in_tree = bool(package) and Path(package).resolve().is_relative_to(ROOT / "src")
    return {
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "src_modified": bool(status) if status is not None and in_tree else None,
        "luthien_package": package or None,
    }


def measured(comparison: Comparison) -> list[Measurement]:
    """Every measurement of a scenario, one per target."""
    return [comparison.direct, comparison.luthien, *comparison.others.values()]


def noise(comparisons: list[Comparison]) -> dict[str, list[str]]:
    """Why each noisy scenario's numbers are suspect: other processes busy, or the CPU running slow."""
    best = min(m.calibration_ms for c in comparisons for m in measured(c))
    reasons: dict[str, list[str]] = {}
    for c in comparisons:
        found: list[str] = []
        other = max(m.other_cpu for m in measured(c))
        if other >= NOISY_CPU:
            found.append(f"other processes used {other:.2f} CPU")
        slowest = max(m.calibration_ms for m in measured(c))
        if best > 0 and slowest > best * NOISY_CALIBRATION:
            found.append(f"CPU {slowest / best:.2f}x slower than at best (host contention)")
        if found:
            reasons[c.scenario] = found
    return reasons


def report(
    args: argparse.Namespace, layout: CpuLayout, proxy_argv: list[str], comparisons: list[Comparison]
) -> dict[str, Any]:
    """The JSON document written to results/latest.json."""
    checks = evaluate(comparisons, args.connections, args.workers)
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "nproc": os.cpu_count(),
            "cpus_available": len(os.sched_getaffinity(0)),
            "cpu_model": cpu_model(),
            "kernel": platform.release(),
        },
        "versions": _versions(),
        "source": source_info(),
        "config": {
            "duration_s": args.duration,
            "repeat": args.repeat,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "load_generator": "python (smoke)" if args.smoke else "wrk",
            "workers": args.workers,
            "variants": args.variants,
            "peers": args.peers,
            "deltas": args.deltas,
            "ttft_deltas": args.ttft_deltas,
            "ttft_delay_ms": args.ttft_delay_ms,
            "pinning": layout.describe(),
            "proxy_cmd": shlex.join(proxy_argv),
        },
        "targets": checks,
        "noise": noise(comparisons),
        "scenarios": [asdict(c) for c in comparisons],
    }


def print_table(result: dict[str, Any]) -> None:
    """The human-readable summary."""
    rows: list[tuple[str, str, str, str, str]] = []
    for c in result["scenarios"]:
        direct, luthien = c["direct"], c["luthien"]
        name = c["scenario"] + (" *" if c["scenario"] in result["noise"] else "")
        rows.append(
            (
                name,
                "req/s",
                f"{direct['rps']:.0f}",
                f"{luthien['rps']:.0f}",
                f"x{c['rps_ratio']:.2f}",
            )
        )
        for key in ("p50", "p99"):
            added = c[f"added_{key}_ms"]
            rows.append(
                (
                    "",
                    f"{key} ms",
                    f"{direct['latency_ms'][key]:.3f}",
                    f"{luthien['latency_ms'][key]:.3f}",
                    f"+{added:.3f} ms" if added >= 0 else f"{added:.3f} ms",
                )
            )
        direct_cpu, luthien_cpu = direct["server_cpu_us_per_request"], luthien["server_cpu_us_per_request"]
        rows.append(
            (
                "",
                "server CPU µs/req",
                f"{direct_cpu:.0f}",
                f"{luthien_cpu:.0f}",
                f"x{luthien_cpu / direct_cpu:.2f}" if direct_cpu else "",
            )
        )
        if c["added_ttft_p50_ms"] is not None:
            rows.append(
                (
                    "",
                    "TTFT p50 ms",
                    f"{direct['ttft_ms']['p50']:.3f}",
                    f"{luthien['ttft_ms']['p50']:.3f}",
                    f"+{c['added_ttft_p50_ms']:.3f} ms",
                )
            )
        for label, m in (("direct", direct), ("luthien", luthien)):
            if m["errors"]:
                rows.append(("", f"ERRORS {label}", str(m["errors"]), m["error_detail"], ""))
    header = ("scenario", "metric", "direct", "via Luthien", "Luthien/direct")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        )
    print()
    if any(c["others"] for c in result["scenarios"]):
        print_side_by_side(result)
    m = result["machine"]
    print(f"machine: {m['nproc']} CPUs, {m['cpu_model']}; pinning: {result['config']['pinning']}")
    source = result["source"]
    modified = ", src/ modified" if source["src_modified"] else ""
    print(f"luthien: {source['luthien_package']} (commit {source['git_commit']}{modified})")
    if result["noise"]:
        print("WARNING: scenarios marked * ran on a busy machine; re-run them when it is quiet:")
        for scenario, reasons in result["noise"].items():
            print(f"  {scenario}: {'; '.join(reasons)}")
    if result["targets"]:
        smoke = result["config"]["load_generator"] == "python (smoke)"
        print(f"targets (issues 10 and 11{'; smoke run: the figures mean nothing' if smoke else ''}):")
    for name, check in result["targets"].items():
        bound = f">= {check['target_min']:g}" if "target_min" in check else f"<= {check['target_max']:g}"
        print(f"  {name}: {check['value']:.3f} (want {bound}) -> {'met' if check['met'] else 'MISSED'}")


def cell(by_target: dict[str, Any], name: str, show: Callable[[dict[str, Any]], str]) -> str:
    """One target's figure, or `-` when it was not measured in this scenario."""
    return show(by_target[name]) if name in by_target else "-"


def print_side_by_side(result: dict[str, Any]) -> None:
    """Every target's throughput, its ratio to the bare relay, p50, CPU per call and TTFT, per scenario."""
    names = ["direct", "luthien", *dict.fromkeys(n for c in result["scenarios"] for n in c["others"])]
    if "relay" in names:
        names.remove("relay")
        names.insert(1, "relay")
    rows: list[tuple[str, ...]] = []
    for c in result["scenarios"]:
        by_target = {"direct": c["direct"], "luthien": c["luthien"], **c["others"]}
        relay = by_target.get("relay")
        rows.append((c["scenario"], *(cell(by_target, n, lambda m: f"{m['rps']:.0f}/s") for n in names)))
        if relay and relay["rps"]:
            rows.append(
                (
                    "  x relay",
                    *(f"x{by_target[n]['rps'] / relay['rps']:.2f}" if n in by_target else "-" for n in names),
                )
            )
        rows.append(
            ("  p50 ms", *(cell(by_target, n, lambda m: f"{m['latency_ms']['p50']:.3f}") for n in names))
        )
        rows.append(
            (
                "  server CPU µs/req",
                *(cell(by_target, n, lambda m: f"{m['server_cpu_us_per_request']:.0f}") for n in names),
            )
        )
        if c["added_ttft_p50_ms"] is not None:
            ttft = [cell(by_target, n, lambda m: f"{m['ttft_ms']['p50']:.3f}") for n in names]
            rows.append(("  TTFT p50 ms", *ttft))
    header = ("scenario", *names)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
            )
        )
    print()
