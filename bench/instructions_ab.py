"""`bench/instructions.py --wrk-ab DIR`: this tree against the tree at DIR, `wrk` alternating between them.

Two `luthien serve` processes (each running the same policy or variant) in front of one fake upstream;
for each scenario `wrk` runs each server `--rounds` times, in alternating order, and the medians are
compared.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from instructions_setup import (
    API_KEY,
    HOST,
    SCENARIOS,
    free_port,
    luthien_env,
    request_body,
    start_luthien,
    start_upstream,
    stop,
)
from variants import variant_env

_WRK_SCRIPT = f"""
function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["anthropic-version"] = "2023-06-01"
   wrk.headers["x-api-key"] = "{API_KEY}"
   wrk.headers["Authorization"] = "Bearer {API_KEY}"
end
"""


def wrk(url: str, body_file: Path, script: Path, connections: int, duration: int) -> float:
    """Requests per second `wrk` measured (non-200 answers fail the run)."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url, "--", str(body_file)]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in output:
        sys.exit(f"wrk saw errors:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        sys.exit(f"no figure in wrk's output:\n{output}")
    return float(match.group(1))


def wrk_ab(args: argparse.Namespace, policy: str, out_dir: Path) -> list[dict[str, Any]]:
    """This tree (B) against `args.wrk_ab` (A), wrk alternating between them."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    script = out_dir / "post.lua"
    script.write_text(_WRK_SCRIPT)
    upstream_port = free_port()
    variant = {} if policy == "noop" else variant_env(policy, out_dir, f"http://{HOST}:{upstream_port}")
    upstream = start_upstream(upstream_port, out_dir / "upstream.log")
    servers: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    try:
        for label, src in (("before", args.wrk_ab), ("after", args.src)):
            ports[label] = free_port()
            env = luthien_env(ports[label], upstream_port, src, variant)
            servers[label] = start_luthien(ports[label], env, out_dir / f"luthien-{label}.log", [])
        for name in args.scenarios:
            scenario = SCENARIOS[name]
            body_file = out_dir / f"{name}.json"
            body_file.write_bytes(request_body(scenario))
            figures: dict[str, list[float]] = {"before": [], "after": []}
            for round_ in range(args.rounds):
                order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
                for label in order:
                    url = f"http://{HOST}:{ports[label]}{scenario.path}"
                    wrk(url, body_file, script, args.connections, 1)  # warm-up
                    figures[label].append(wrk(url, body_file, script, args.connections, args.duration))
            before, after = statistics.median(figures["before"]), statistics.median(figures["after"])
            results.append(
                {"policy": policy, "scenario": name, "before": figures["before"], "after": figures["after"]}
            )
            print(
                f"{policy:15} {name:18} before {before:8,.0f} req/s  after {after:8,.0f} req/s  "
                f"ratio {after / before:.2f}  (rounds: {figures})",
                flush=True,
            )
    finally:
        for server in servers.values():
            stop(server)
        stop(upstream)
    return results
