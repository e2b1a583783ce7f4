"""What metrics and (disabled) tracing add to one call, measured in process with `timeit`.

`python bench/observability_overhead.py` times, per call:

- `metrics`: what the recorder's observer does for one call (`call_started`, `stream_started`,
  `call_finished` with a record carrying usage and a judge decision), single-process registry;
- `metrics_multiprocess`: the same with `PROMETHEUS_MULTIPROC_DIR` set (values in mmap'd files),
  run in a child process since prometheus-client chooses its value store at import;
- `tracing_off`: the tracing hooks a call passes through with tracing off (one `span` per policy
  `on_request`, one `start_span` per response stage, one `upstream_span`).

Prints microseconds per call (best of 5 repeats). See docs/performance.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import timeit

from multidict import CIMultiDict

ROUNDS = 20_000
REPEATS = 5


def _metrics_per_call_us() -> float:
    from luthien.observability.metrics import Metrics
    from luthien.records.model import RecordedEvent, Timing, TransactionRecord, TransactionStatus, Usage
    from luthien.records.observer import FinishedCall

    metrics = Metrics(50)
    record = TransactionRecord(
        transaction_id="t",
        session_id=None,
        client_api="anthropic_messages",
        endpoint="/v1/messages",
        model="claude-sonnet-4-6",
        upstream="anthropic",
        policy="guard",
        status=TransactionStatus.OK,
        http_status=200,
        streaming=True,
        timing=Timing(received_at=0.0, upstream_first_byte_at=0.1, first_token_at=0.2, ended_at=1.0),
        usage=Usage(input_tokens=25, output_tokens=12, cache_read_tokens=100),
        events=(
            RecordedEvent(
                "judge.decision", {"blocked": False, "latency_ms": 120.0, "error": None}, "guard", 0.5
            ),
        ),
    )
    call = FinishedCall("/v1/messages", True, record, 200, True)

    def one_call() -> None:
        metrics.call_started("/v1/messages")
        metrics.stream_started("/v1/messages")
        metrics.call_finished(call)

    return min(timeit.repeat(one_call, number=ROUNDS, repeat=REPEATS)) / ROUNDS * 1e6


def _tracing_off_per_call_us() -> float:
    from luthien.observability.tracing import span, start_span, upstream_span

    headers: CIMultiDict[str] = CIMultiDict({"content-type": "application/json"})

    def one_call() -> None:
        with span("policy.on_request", {"luthien.policy": "guard"}):
            pass
        start_span("policy.response", {"luthien.policy": "guard"})
        with upstream_span("POST", "http://upstream/v1/messages", headers):
            pass

    return min(timeit.repeat(one_call, number=ROUNDS, repeat=REPEATS)) / ROUNDS * 1e6


def main() -> int:
    if sys.argv[1:] == ["--metrics-only"]:
        print(f"{_metrics_per_call_us():.2f}")
        return 0
    print(f"metrics               {_metrics_per_call_us():6.2f} µs/call")
    with tempfile.TemporaryDirectory(prefix="luthien-prom-") as directory:
        child = subprocess.run(
            [sys.executable, __file__, "--metrics-only"],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory},
            capture_output=True,
            text=True,
            check=True,
        )
    print(f"metrics_multiprocess  {float(child.stdout):6.2f} µs/call")
    print(f"tracing_off           {_tracing_off_per_call_us():6.2f} µs/call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
