"""Starting the targets and measuring each scenario against each of them.

Targets: the fake upstream (`direct`), the bare relay, Luthien (one worker, and `--workers N`), peers.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load import Measurement, calibration_ms, run_python_load, run_ttft, run_wrk
from processes import (
    BENCH_DIR,
    HOST,
    LITELLM,
    MODEL,
    NOISY_CPU,
    STARTUP_TIMEOUT_S,
    VENV_PYTHON,
    CpuAccounting,
    CpuLayout,
    Processes,
    free_port,
    pin_process,
    taskset,
    wait_healthy,
)
from report import report
from scenarios import Comparison, Scenario, _messages_body, check_answers, scenarios


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
        return run_ttft(url, body_file.read_bytes(), args.duration)
    if args.smoke:
        return run_python_load(url, body_file.read_bytes(), scenario.connections, args.duration)
    return run_wrk(processes, url, body_file, scenario.connections, args.duration, args.threads, load_cpus)


def measure_accounted(
    processes: Processes,
    args: argparse.Namespace,
    scenario: Scenario,
    base: str,
    body_file: Path,
    load_cpus: list[int] | None,
    server: subprocess.Popen[bytes],
) -> Measurement:
    """`measure`, plus the server's CPU time, other processes' CPU use and CPU-speed probes."""
    before = calibration_ms()
    with CpuAccounting(processes, server) as cpu:
        m = measure(processes, args, scenario, base, body_file, load_cpus)
    m.calibration_ms = max(before, calibration_ms())
    m.other_cpu, m.steal_cpu = cpu.other_cpu, cpu.steal_cpu
    m.server_cpu_s = cpu.server_cpu_s
    m.server_cpu_us_per_request = cpu.server_cpu_s * 1e6 / m.requests if m.requests else 0.0
    return m


def median(measurements: list[Measurement]) -> Measurement:
    """The run with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(measurements, key=lambda m: m.rps)
    return ordered[(len(ordered) - 1) // 2]


def warm_up(
    processes: Processes, args: argparse.Namespace, base: str, body_dir: Path, layout: CpuLayout
) -> None:
    """Short discarded runs so connection pools are full and code paths are warm."""
    if args.warmup <= 0 or getattr(args, "smoke", False):
        return
    for stream in (False, True):
        body_file = body_dir / f"warmup-{stream}.json"
        body_file.write_bytes(json.dumps(_messages_body(stream)).encode())
        url = f"{base}/v1/messages?deltas={args.deltas}"
        run_wrk(processes, url, body_file, args.connections, args.warmup, args.threads, layout.load)


@dataclass
class Target:
    """One server the load is run against: the fake itself (`direct`), or a proxy in front of it."""

    name: str
    base: str
    process: subprocess.Popen[bytes]


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
    fake = processes.start(
        "fake_upstream", taskset(layout.load, [python, str(BENCH_DIR / "fake_upstream.py"), str(fake_port)])
    )
    direct = f"http://{HOST}:{fake_port}"
    targets = [Target("direct", direct, fake)]
    if args.relay:
        port = free_port()
        argv = [python, str(BENCH_DIR / "relay.py"), str(port), direct]
        targets.append(
            Target("relay", f"http://{HOST}:{port}", processes.start("relay", taskset(layout.server, argv)))
        )
    port = free_port()
    proxy_argv = shlex.split(args.proxy_cmd.format(port=port, host=HOST, python=python))
    luthien = processes.start(
        "luthien", taskset(layout.server, proxy_argv), luthien_env(port, fake_port, 1, data_dir)
    )
    targets.append(Target("luthien", f"http://{HOST}:{port}", luthien))
    if args.workers > 1:
        port = free_port()
        name = f"luthien_w{args.workers}"
        env = luthien_env(port, fake_port, args.workers, data_dir)
        targets.append(Target(name, f"http://{HOST}:{port}", processes.start(name, proxy_argv, env)))
    for peer in args.peers:
        targets.append(start_peer(processes, peer, direct, layout))
    for target in targets:
        # LiteLLM imports for most of a minute on a loaded machine.
        timeout = PEER_STARTUP_TIMEOUT_S if target.name in PEERS else STARTUP_TIMEOUT_S
        wait_healthy(
            processes, target.name, target.process, f"{target.base}{health_path(target.name)}", timeout
        )
    for target in targets:
        check_answers(target.base, target.name)
        if target.name in PEERS:
            # LiteLLM's first calls take seconds (lazy imports and set-up): not what is measured.
            for _ in range(PEER_PRIMING_CALLS):
                check_answers(target.base, target.name)
    if args.workers > 1:
        wait_for_workers(targets[-1 - len(args.peers)].base, args.workers)
    return targets, proxy_argv


PEERS = ("litellm",)
PEER_STARTUP_TIMEOUT_S = 180.0
PEER_PRIMING_CALLS = 10


def health_path(name: str) -> str:
    """Where a target answers once it is up."""
    return "/health/liveliness" if name == "litellm" else "/health"


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


def start_peer(processes: Processes, peer: str, upstream: str, layout: CpuLayout) -> Target:
    """Start a peer proxy (only `litellm`, from `make bench-peers`) in front of the fake.

    Raises:
        RuntimeError: the peer is not installed.
    """
    if peer != "litellm":
        raise RuntimeError(f"unknown peer {peer!r} (known: litellm)")
    if not LITELLM.exists():
        raise RuntimeError(f"{LITELLM} is missing: run `make bench-peers` first")
    port = free_port()
    config = processes.log_dir / "litellm.yaml"
    config.write_text(litellm_config(upstream))
    argv = [str(LITELLM), "--config", str(config), "--host", HOST, "--port", str(port), "--num_workers", "1"]
    # No master key: loopback only, and keys would add a lookup Luthien does not make either.
    env = {
        **os.environ,
        "LITELLM_LOG": "ERROR",
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        # Offline: the model cost map shipped in the package, not a download at start-up.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    env.pop("LITELLM_MASTER_KEY", None)
    return Target(
        "litellm", f"http://{HOST}:{port}", processes.start("litellm", taskset(layout.server, argv), env)
    )


def litellm_config(upstream: str) -> str:
    """LiteLLM's proxy config: the benchmark's model names routed to the fake upstream."""
    return (
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: anthropic/{MODEL}\n"
        f"      api_base: {upstream}\n"
        "      api_key: sk-bench\n"
        "  - model_name: gpt-fake-1\n"
        "    litellm_params:\n"
        "      model: openai/gpt-fake-1\n"
        f"      api_base: {upstream}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  telemetry: false\n"
        "general_settings:\n"
        "  disable_spend_logs: true\n"
    )


def run_all(
    processes: Processes, args: argparse.Namespace, layout: CpuLayout, body_dir: Path
) -> dict[str, Any]:
    """Start every target, run every scenario against each, return the report."""
    targets, proxy_argv = start_targets(processes, args, layout, body_dir)
    fake = targets[0].process
    comparisons: list[Comparison] = []
    chosen = scenarios(args)
    for index, scenario in enumerate(chosen, 1):
        body_file = body_dir / f"{scenario.name}.json"
        body_file.write_bytes(json.dumps(scenario.body).encode())
        runs: dict[str, list[Measurement]] = {target.name: [] for target in targets}
        for repeat in range(args.repeat):
            for target in targets:
                if scenario.ttft and target.name in PEERS:
                    continue  # a peer does not pass the query (the deltas' pacing) on to the fake
                # The server under test gets the server CPU; the fake stays off it while a proxy is tested.
                pin_process(fake.pid, layout.server if target.name == "direct" else layout.load)
                if index == 1 and repeat == 0:
                    warm_up(processes, args, target.base, body_dir, layout)
                label = f"[{index}/{len(chosen)}]" + (
                    f" run {repeat + 1}/{args.repeat}" if args.repeat > 1 else ""
                )
                print(f"{label} {scenario.name} {target.name:10} ...", end="", flush=True)
                m = measure_accounted(
                    processes, args, scenario, target.base, body_file, layout.load, target.process
                )
                runs[target.name].append(m)
                ttft = f", TTFT p50 {m.ttft_ms['p50']:.3f} ms" if m.ttft_ms else ""
                errors = f", {m.errors} ERRORS ({m.error_detail})" if m.errors else ""
                noise = f", other processes used {m.other_cpu:.2f} CPU" if m.other_cpu >= NOISY_CPU else ""
                print(f" {m.rps:9.1f} req/s, p50 {m.latency_ms['p50']:.3f} ms{ttft}{errors}{noise}")
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
            }
        comparisons.append(comparison)
    return report(args, layout, proxy_argv, comparisons)
