"""A replay run as JSON (the admin API, `luthien replay --json`) and as the summary table the CLI prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from luthien.replay.runner import ReplayOutcome
from luthien.replay.store import ReplayRun, Totals

LISTED_DISAGREEMENTS = 20
"""Disagreements the table lists one per line (the JSON has them all)."""
LABEL_WIDTH = 16


def totals_json(totals: Totals, cost_usd: float) -> dict[str, Any]:
    """The counters, with the calls replayed and the cost estimate."""
    return {
        "seen": totals.done,
        "replayed": totals.replayed,
        "skipped": totals.skipped,
        "changed": totals.changed,
        "newly_blocked": totals.newly_blocked,
        "newly_allowed": totals.newly_allowed,
        "errors": totals.errors,
        "judge_calls": totals.judge_calls,
        "judge_input_tokens": totals.input_tokens,
        "judge_output_tokens": totals.output_tokens,
        "cost_usd": round(cost_usd, 6),
    }


def run_json(run: ReplayRun) -> dict[str, Any]:
    """One run: what was asked, where it is, what it found."""
    return {
        "id": run.id,
        "policy": run.policy,
        "filters": run.filters,
        "status": run.status.value,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "progress": {"done": run.totals.done, "total": run.total},
        "totals": totals_json(run.totals, run.cost_usd),
        "error": run.error,
    }


def _body(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def outcome_json(seq: int, outcome: ReplayOutcome, with_bodies: bool = True) -> dict[str, Any]:
    """One call's outcome; with `with_bodies`, both final responses (stored for disagreements)."""
    item: dict[str, Any] = {
        "seq": seq,
        "transaction_id": outcome.transaction_id,
        "client_api": outcome.client_api,
        "model": outcome.model,
        "streaming": outcome.streaming,
        "received_at": outcome.received_at,
        "policy_then": outcome.policy_then,
        "disagrees": outcome.disagrees,
        "skipped": outcome.skipped,
        "changed": outcome.changed,
        "newly_blocked": list(outcome.newly_blocked),
        "newly_allowed": list(outcome.newly_allowed),
        "error": outcome.error,
        "judge_calls": outcome.judge_calls,
        "judge_input_tokens": outcome.input_tokens,
        "judge_output_tokens": outcome.output_tokens,
        "events": [{"type": type, "data": data} for type, data in outcome.events],
    }
    if with_bodies:
        item["recorded_response"] = _body(outcome.recorded_response if outcome.disagrees else None)
        item["replayed_response"] = _body(outcome.replayed_response if outcome.disagrees else None)
    return item


def _row(label: str, value: object) -> str:
    return f"{label:<{LABEL_WIDTH}}{value}\n"


def _verdicts(outcome: ReplayOutcome) -> str:
    parts: list[str] = []
    if outcome.error is not None:
        parts.append(f"error: {outcome.error}")
    if outcome.newly_blocked:
        parts.append("newly blocked " + ", ".join(outcome.newly_blocked))
    if outcome.newly_allowed:
        parts.append("newly allowed " + ", ".join(outcome.newly_allowed))
    if outcome.changed and not parts:
        parts.append("changed")
    return "; ".join(parts)


def render_table(run: ReplayRun, outcomes: Sequence[ReplayOutcome]) -> str:
    """The summary the CLI prints, then the disagreements (at most `LISTED_DISAGREEMENTS`)."""
    totals = run.totals
    out = [f"replay of {run.policy!r} (run {run.id})\n"]
    out.append(_row("calls seen", totals.done))
    out.append(_row("  replayed", totals.replayed))
    out.append(_row("  skipped", totals.skipped))
    out.append(_row("changed", totals.changed))
    out.append(_row("newly blocked", totals.newly_blocked))
    out.append(_row("newly allowed", totals.newly_allowed))
    out.append(_row("errors", totals.errors))
    out.append(_row("judge calls", totals.judge_calls))
    out.append(_row("judge tokens", f"{totals.input_tokens} in / {totals.output_tokens} out"))
    out.append(_row("cost estimate", f"${run.cost_usd:.4f}"))
    disagreements = [outcome for outcome in outcomes if outcome.disagrees]
    if disagreements:
        out.append(f"\ndisagreements ({len(disagreements)}):\n")
        for outcome in disagreements[:LISTED_DISAGREEMENTS]:
            stream = " stream" if outcome.streaming else ""
            out.append(f"  {outcome.transaction_id}  {outcome.client_api}{stream}  {_verdicts(outcome)}\n")
        if len(disagreements) > LISTED_DISAGREEMENTS:
            out.append(f"  ... {len(disagreements) - LISTED_DISAGREEMENTS} more (see --json)\n")
    return "".join(out)
