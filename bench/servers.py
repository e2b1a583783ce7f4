"""Starting the targets and measuring each scenario against each of them.

Targets: the fake upstream (`direct`), the bare relay, Luthien (`luthien`: one worker, no policy), the
Luthien variants (`--variants`: `string_replace`, `translated`; throughput scenarios only), Luthien
with `--workers N`, peers.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from load import Measurement, calibration_ms, run_python_load, run_ttft, run_wrk
from peers import PEER_PRIMING_CALLS, PEER_STARTUP_TIMEOUT_S, PEERS, health_path, start_peer
from processes import (
    BENCH_DIR,
    HOST,
    NOISY_CPU,
    STARTUP_TIMEOUT_S,
    VENV_PYTHON,
    CpuAccounting,
    CpuLayout,
    Processes,
    Target,
    free_port,
    pin_process,
    taskset,
    wait_healthy,
)
from report import report
from scenarios import MESSAGES, Comparison, Endpoint, Scenario, check_answers, scenarios
from variants import REPLACEMENT, variant_env


def measure(
    processes: Processes,
    args: argparse.Namespace,
    scenario: Scenario,
    base: str,
    body_file: Path,
    load_cpus: list[int] | None,
) -> Measurement:
    """Run one scenario against one base URL."""
    url = f"{base}{scenario.path}" + (f"?{scenario.query}" if scenario.query else "")
    if scenario.ttft:
        return run_ttft(url, body_file.read_bytes(), args.duration, scenario.endpoint.first_token)
    if args.smoke:
        return run_python_load(url, body_file.read_bytes(), scenario.connections, args.duration)
    return run_wrk(processes, url, body_file, scenario.connections, args.duration, args.threads, load_cpus)


def measure_accounted(
    processes: Processes,
    args: argparse.Namespace,
    scenario: Scenario,
    target: Target,
    body_file: Path,
    load_cpus: list[int] | None,
) -> Measurement:
    """`measure`, plus the server's CPU time, other processes' CPU use and CPU-speed probes.

    `--smoke` skips the probes (about 0.6 s per measurement): its figures mean nothing anyway.
    """
    before = 0.0 if args.smoke else calibration_ms()
    with CpuAccounting(processes, target.process) as cpu:
        m = measure(processes, args, scenario, target.base, body_file, load_cpus)
    m.calibration_ms = 0.0 if args.smoke else max(before, calibration_ms())
    m.other_cpu, m.steal_cpu = cpu.other_cpu, cpu.steal_cpu
    m.server_cpu_s = cpu.server_cpu_s
    m.server_cpu_us_per_request = cpu.server_cpu_s * 1e6 / m.requests if m.requests else 0.0
    return m


def median(measurements: list[Measurement]) -> Measurement:
    """The run with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(measurements, key=lambda m: m.rps)
    return ordered[(len(ordered) - 1) // 2]


def warm_up(
    processes: Processes,
    args: argparse.Namespace,
    base: str,
    body_dir: Path,
    layout: CpuLayout,
    endpoint: Endpoint = MESSAGES,
) -> None:
    """Short discarded runs on `endpoint`, streaming and not, so pools are full and code paths warm."""
    if args.warmup <= 0 or getattr(args, "smoke", False):
        return
    for stream in (False, True):
        body_file = body_dir / f"warmup-{endpoint.name}-{stream}.json"
        body_file.write_bytes(json.dumps(endpoint.make_body(stream)).encode())
        url = f"{base}{endpoint.path}?deltas={args.deltas}"
        run_wrk(processes, url, body_file, args.connections, args.warmup, args.threads, layout.load)


def luthien_env(port: int, fake_port: int, workers: int, data_dir: Path) -> dict[str, str]:
    """The environment of a `luthien serve` in front of the fake (no policy, no config file).

    Records go to a database of its own in `data_dir` (the run's temporary directory), not the
    working directory (`LUTHIEN_DATABASE_URL` in the environment wins).
    """
    env = {
        "LUTHIEN_DATABASE_URL": f"sqlite:///{data_dir / f'luthien-{port}.db'}",
        **os.environ,
        "LUTHIEN_HOST": HOST,
        "LUTHIEN_PORT": str(port),
        "LUTHIEN_ANTHROPIC_BASE_URL": f"http://{HOST}:{fake_port}",
        "LUTHIEN_OPENAI_BASE_URL": f"http://{HOST}:{fake_port}/v1",
        "LUTHIEN_LOG_LEVEL": "warning",
        "LUTHIEN_WORKERS": str(workers),
    }
    for name in ("LUTHIEN_API_KEY", "LUTHIEN_AUTH_MODE", "LUTHIEN_CONFIG", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    return env


def start_targets(
    processes: Processes, args: argparse.Namespace, layout: CpuLayout, data_dir: Path
) -> tuple[list[Target], list[str]]:
    """Start the fake, Luthien and the other proxies; return them (direct first) and Luthien's argv."""
    fake_port = free_port()
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    # The fake starts on the load CPUs (while a proxy is under test); it is moved for direct runs.
    # A translated call reaches it without the client's query string: its default is the run's count.
    fake = processes.start(
        "fake_upstream",
        taskset(layout.load, [python, str(BENCH_DIR / "fake_upstream.py"), str(fake_port)]),
        {**os.environ, "FAKE_DELTAS": str(args.deltas)},
    )
    direct = f"http://{HOST}:{fake_port}"
    targets = [Target("direct", direct, fake)]
    if args.relay:
        port = free_port()
        argv = [python, str(BENCH_DIR / "relay.py"), str(port), direct]
        targets.append(
            Target("relay", f"http://{HOST}:{port}", processes.start("relay", taskset(layout.server, argv)))
        )

    def start_luthien(name: str, workers: int, extra_env: dict[str, str], cpus: list[int] | None) -> Target:
        port = free_port()
        argv = shlex.split(args.proxy_cmd.format(port=port, host=HOST, python=python))
        env = {**luthien_env(port, fake_port, workers, data_dir), **extra_env}
        return Target(name, f"http://{HOST}:{port}", processes.start(name, taskset(cpus, argv), env))

    targets.append(start_luthien("luthien", 1, {}, layout.server))
    for variant in args.variants:
        target = start_luthien(variant, 1, variant_env(variant, data_dir, direct), layout.server)
        target.ttft = target.latency = False
        target.expect = REPLACEMENT.encode() if variant == "string_replace" else None
        targets.append(target)
    if args.workers > 1:
        # Not pinned: the workers are meant to use every CPU.
        targets.append(start_luthien(f"luthien_w{args.workers}", args.workers, {}, None))
    for peer in args.peers:
        targets.append(start_peer(processes, peer, direct, layout))
    for target in targets:
        timeout = PEER_STARTUP_TIMEOUT_S if target.name in PEERS else STARTUP_TIMEOUT_S
        wait_healthy(
            processes, target.name, target.process, f"{target.base}{health_path(target.name)}", timeout
        )
    chosen = scenarios(args)
    for target in targets:
        check_target(target, [s for s in chosen if runs_on(target, s)])
    if args.workers > 1:
        wait_for_workers(targets[-1 - len(args.peers)].base, args.workers)
    return targets, shlex.split(args.proxy_cmd.format(port="{port}", host=HOST, python=python))


def runs_on(target: Target, scenario: Scenario) -> bool:
    """Whether `scenario` is measured on `target`."""
    if scenario.path in target.skipped_paths:
        return False
    if scenario.ttft:
        return target.ttft
    return scenario.throughput or target.latency


def check_target(target: Target, chosen: list[Scenario]) -> None:
    """Check that `target` answers on every endpoint it will be measured on.

    A peer that does not serve an endpoint is skipped on it (and says so); any other failure stops the run.

    Raises:
        RuntimeError: a target that is not a peer answered wrongly.
    """
    endpoints = list({s.endpoint.name: s.endpoint for s in chosen}.values())
    if target.name not in PEERS:
        check_answers(target.base, target.name, endpoints, target.expect)
        return
    for endpoint in endpoints:
        try:
            # LiteLLM's first calls take seconds (lazy imports and set-up): not what is measured.
            for _ in range(PEER_PRIMING_CALLS):
                check_answers(target.base, target.name, [endpoint])
        except RuntimeError as error:
            print(f"{target.name} skipped on {endpoint.path}: {error}")
            target.skipped_paths.add(endpoint.path)


def wait_for_workers(base: str, count: int) -> None:
    """Wait until `count` distinct workers answer (`x-luthien-worker`), so all of them are measured.

    Raises:
        RuntimeError: they did not all answer within the start-up timeout.
    """
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    seen: set[str] = set()
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only workers {sorted(seen)} of {count} answered at {base}")
        with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
            seen.add(response.headers.get("x-luthien-worker", ""))


def run_all(
    processes: Processes, args: argparse.Namespace, layout: CpuLayout, body_dir: Path
) -> dict[str, Any]:
    """Start every target, run every scenario against each, return the report."""
    targets, proxy_argv = start_targets(processes, args, layout, body_dir)
    fake = targets[0].process
    comparisons: list[Comparison] = []
    chosen = scenarios(args)
    warmed: set[tuple[str, str]] = set()
    for index, scenario in enumerate(chosen, 1):
        body_file = body_dir / f"{scenario.name}.json"
        body_file.write_bytes(json.dumps(scenario.body).encode())
        runs: dict[str, list[Measurement]] = {target.name: [] for target in targets}
        for repeat in range(args.repeat):
            for target in targets:
                if not runs_on(target, scenario):
                    continue
                # The server under test gets the server CPU; the fake stays off it while a proxy is tested.
                pin_process(fake.pid, layout.server if target.name == "direct" else layout.load)
                if (target.name, scenario.endpoint.name) not in warmed:
                    warmed.add((target.name, scenario.endpoint.name))
                    warm_up(processes, args, target.base, body_dir, layout, scenario.endpoint)
                label = f"[{index}/{len(chosen)}]" + (
                    f" run {repeat + 1}/{args.repeat}" if args.repeat > 1 else ""
                )
                print(f"{label} {scenario.name} {target.name:14} ...", end="", flush=True)
                m = measure_accounted(processes, args, scenario, target, body_file, layout.load)
                runs[target.name].append(m)
                ttft = f", TTFT p50 {m.ttft_ms['p50']:.3f} ms" if m.ttft_ms else ""
                errors = f", {m.errors} ERRORS ({m.error_detail})" if m.errors else ""
                noise = f", other processes used {m.other_cpu:.2f} CPU" if m.other_cpu >= NOISY_CPU else ""
                print(
                    f" {m.rps:9.1f} req/s, p50 {m.latency_ms['p50']:.3f} ms, "
                    f"{m.server_cpu_us_per_request:5.0f} µs CPU/req{ttft}{errors}{noise}"
                )
        comparison = Comparison(
            scenario.name,
            scenario.description,
            scenario.connections,
            median(runs["direct"]),
            median(runs["luthien"]),
            others={
                name: median(measured)
                for name, measured in runs.items()
                if name not in ("direct", "luthien") and measured
            },
        )
        if args.repeat > 1:
            comparison.extra["runs"] = {
                target: [{"rps": m.rps, "p50_ms": m.latency_ms["p50"]} for m in measured]
                for target, measured in runs.items()
                if measured
            }
        comparisons.append(comparison)
    return report(args, layout, proxy_argv, comparisons)
