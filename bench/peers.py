"""Peer proxies measured in front of the same fake upstream (`--peers litellm`, from `make bench-peers`)."""

from __future__ import annotations

import os

from processes import HOST, LITELLM, MODEL, CpuLayout, Processes, Target, free_port, taskset

PEERS = ("litellm",)
PEER_STARTUP_TIMEOUT_S = 180.0
"""LiteLLM imports for most of a minute on a loaded machine."""
PEER_PRIMING_CALLS = 10
"""LiteLLM's first calls take seconds (lazy imports and set-up): not what is measured."""


def health_path(name: str) -> str:
    """Where a target answers once it is up."""
    return "/health/liveliness" if name == "litellm" else "/health"


def start_peer(processes: Processes, peer: str, upstream: str, layout: CpuLayout) -> Target:
    """Start a peer proxy (only `litellm`, from `make bench-peers`) in front of the fake.

    Raises:
        RuntimeError: the peer is unknown or not installed.
    """
    if peer != "litellm":
        raise RuntimeError(f"unknown peer {peer!r} (known: {', '.join(PEERS)})")
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
    process = processes.start("litellm", taskset(layout.server, argv), env)
    # A peer does not pass the query (the deltas' pacing) on to the fake: no time-to-first-token runs.
    return Target("litellm", f"http://{HOST}:{port}", process, ttft=False)


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
