"""Applying a policy to corpus items exactly as the gateway does, without a server.

Per item: a `PolicyContext` with its own activity log and the config's `ModelCaller` (so a judge calls
its configured upstream), a `PolicyStage` whose `process_request` sees the built request, and the
model's reply through the real pipeline (`run_body`). The item counts as blocked when the policy
recorded a block (`policy.blocked`, written by `ctx.record_blocked` and the blocked-message helpers);
as deferred when a trusted model answered the turn instead (`defer_to_trusted` recorded its answer)
and the item's tool call is not in the reply; a policy that fails closed is an `error`. The time
from the request stage to the reply leaving the pipeline is the latency the policy adds to that tool
call; judge token counts come from the `judge.decision` events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from luthien.activity.log import ActivityEvent, ActivityLog
from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.evaluation.calls import eval_request, response_body, tool_call_sent
from luthien.evaluation.corpus import CorpusItem
from luthien.pipeline.run import run_body
from luthien.pipeline.stage import PolicyStage
from luthien.policies.defer_to_trusted import TRUSTED_ANSWER_EVENT
from luthien.policy.base import BLOCKED_EVENT, Policy, PolicyContext
from luthien.policy.runner import PolicyFailure
from luthien.upstream.caller import ModelCaller
from luthien.wire.errors import GatewayError

JUDGE_DECISION_EVENT = "judge.decision"
DEFAULT_CONCURRENCY = 8
"""Items evaluated at once (judge policies make one model call per item)."""

Progress = Callable[[int, int], None]
"""Told (items done, items in all) after each item."""


class Decision(StrEnum):
    """What the policy did to an item's tool call."""

    BLOCKED = "blocked"
    DEFERRED = "deferred"
    """A trusted model answered the turn instead (`defer_to_trusted`): the call was never sent."""
    ALLOWED = "allowed"
    ERROR = "error"
    """The policy failed closed: the client would have got an error instead of the reply."""


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item through one policy.

    Attributes:
        item: the corpus item.
        decision: blocked, deferred, allowed or error.
        sent: whether the tool call was still in the reply the client would get.
        reason: the recorded block reason, or the failure; None when deferred or allowed.
        latency_ms: time the policy added (request stage plus reply through the pipeline).
        judge_calls: `judge.decision` events recorded.
        input_tokens: judge input tokens, summed over those events.
        output_tokens: judge output tokens, likewise.
    """

    item: CorpusItem
    decision: Decision
    sent: bool
    reason: str | None
    latency_ms: float
    judge_calls: int
    input_tokens: int
    output_tokens: int


def _tokens(events: Sequence[ActivityEvent], key: str) -> int:
    counts: list[Any] = [event.data.get(key) for event in events]
    return sum(count for count in counts if isinstance(count, int))


async def evaluate_item(
    policy: Policy[Any], name: str, item: CorpusItem, models: ModelCaller | None
) -> ItemOutcome:
    """Run one item's request and reply through `policy`, as the gateway would."""
    activity = ActivityLog()
    ctx = PolicyContext(f"eval-{item.id}", name, activity, models)
    stage = PolicyStage(policy, ctx, ANTHROPIC_MESSAGES)
    reply = response_body(item)
    started = time.perf_counter()
    failure: str | None = None
    sent = False
    try:
        await stage.process_request(eval_request(item))
        sent = tool_call_sent(await run_body(ANTHROPIC_MESSAGES, reply, stage))
    except PolicyFailure as error:
        failure = f"policy {error.policy_name!r} failed closed"
    except GatewayError as error:
        failure = error.message
    latency_ms = (time.perf_counter() - started) * 1000
    blocks = activity.events(type=BLOCKED_EVENT)
    judged = activity.events(type=JUDGE_DECISION_EVENT)
    trusted_answered = any(
        event.data.get("error") is None for event in activity.events(type=TRUSTED_ANSWER_EVENT)
    )
    if failure is not None:
        decision, reason = Decision.ERROR, failure
    elif blocks:
        decision, reason = Decision.BLOCKED, str(blocks[0].data.get("reason", ""))
    elif trusted_answered and not sent:
        decision, reason = Decision.DEFERRED, None
    else:
        decision, reason = Decision.ALLOWED, None
    return ItemOutcome(
        item=item,
        decision=decision,
        sent=sent,
        reason=reason,
        latency_ms=latency_ms,
        judge_calls=len(judged),
        input_tokens=_tokens(judged, "input_tokens"),
        output_tokens=_tokens(judged, "output_tokens"),
    )


async def evaluate(
    policy: Policy[Any],
    name: str,
    items: Sequence[CorpusItem],
    models: ModelCaller | None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
) -> list[ItemOutcome]:
    """Every item through `policy`, at most `concurrency` at a time; outcomes in corpus order."""
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(item: CorpusItem) -> ItemOutcome:
        nonlocal done
        async with gate:
            outcome = await evaluate_item(policy, name, item, models)
        done += 1
        if progress is not None:
            progress(done, len(items))
        return outcome

    return list(await asyncio.gather(*(one(item) for item in items)))
