"""`bench/run.py --smoke`: the benchmark runs end to end (every target answers, the table is written).

Figures are not checked (no timed tests); the smoke run only proves that the benchmark, the bare relay,
Luthien with no policy, with `string_replace`, on translated routes and with two workers still start,
answer on the three client APIs and report, so `make bench` does not rot.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUARD_S = 600
"""Seconds the run may take on a loaded machine (it took 55 s while other test suites ran)."""


@pytest.mark.timeout(GUARD_S)
def test_the_benchmark_smoke_run_completes_and_writes_every_target(tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--smoke",
            "--workers",
            "2",
            "--output",
            f"{output}",
        ],
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        cwd=ROOT,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(output.read_text())
    names = [c["scenario"] for c in result["scenarios"]]
    assert names == [
        "messages_c1",
        "messages_c4",
        "messages_stream_c4",
        "messages_stream_ttft",
        "chat_c4",
        "chat_stream_c4",
        "responses_c4",
        "responses_stream_c4",
    ]
    for comparison in result["scenarios"]:
        measured = {"direct": comparison["direct"], "luthien": comparison["luthien"], **comparison["others"]}
        expected = ["direct", "luthien", "luthien_w2", "relay"]
        if comparison["connections"] > 1:
            expected += ["string_replace", "translated"]  # the variants run on throughput scenarios
        assert sorted(measured) == sorted(expected), comparison["scenario"]
        for target, measurement in measured.items():
            assert measurement["requests"] > 0, (comparison["scenario"], target)
            assert measurement["errors"] == 0, (comparison["scenario"], target, measurement["error_detail"])
    for endpoint in ("messages", "chat", "responses"):
        assert f"noop/relay req/s {endpoint}_c4" in result["targets"]
        assert f"string_replace/relay req/s {endpoint}_stream_c4" in result["targets"]
        assert f"translated/string_replace CPU per call {endpoint}_stream_c4" in result["targets"]
    assert "x relay" in run.stdout
