"""The policy API: a base class whose hooks return the events to send.

A policy overrides only the hooks it needs. Every hook returns what to emit, and the default returns
the event it received, so forgetting to forward is impossible: doing nothing means passing through.

```python
class Shout(Policy[PolicyConfig]):
    async def on_block_delta(self, event, ctx):
        if event.kind is BlockKind.TEXT:
            return [dataclasses.replace(event, text=event.text.upper())]
        return [event]
```

Buffering is opt-in: a policy lists the block kinds it `holds`. A held block is not streamed; the
policy's `on_block_complete` gets the whole block and returns what to send instead (the same event to
pass it unchanged, with its original bytes). Held tool calls are completed concurrently, so several
judgments run at once while text keeps streaming. What a policy holds is bounded
(`LUTHIEN_MAX_HELD_BYTES`); a block that outgrows it is blocked or released unjudged, as the policy's
`on_held_overflow` says. Per-call state goes in `ctx.state`, never on the
instance: one instance serves every concurrent call.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from luthien.activity.log import ActivityEvent, ActivitySink
from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    ToolCall,
)
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.upstream.caller import ModelCaller

if TYPE_CHECKING:
    from luthien.approvals.service import ApprovalService


BLOCKED_EVENT = "policy.blocked"
"""Activity event type of `PolicyContext.record_blocked`: a policy withheld something from the client."""


class Runner(Protocol):
    """Applies a policy to one call."""

    async def on_request(self, request: CallRequest) -> CallRequest:
        """The request to forward."""
        ...

    def process(self, events: AsyncIterator[CallEvent]) -> AsyncIterator[CallEvent]:
        """The response events to pass on."""
        ...

    @property
    def holding(self) -> bool:
        """Whether response content is held back or being decided at this moment."""
        ...


class OnError(StrEnum):
    """What happens to a call when the policy raises."""

    FAIL = "fail"
    """Fail closed: the client gets an error in its own shape (in-stream once streaming began)."""
    PASS = "pass"
    """Fail open: the policy is bypassed for the rest of the call; its input passes unchanged."""


class OnHeldOverflow(StrEnum):
    """What happens to a held block that outgrows `LUTHIEN_MAX_HELD_BYTES` before it completes."""

    BLOCK = "block"
    """Fail closed: the block is dropped and replaced by a blocked message (recorded as a block)."""
    RELEASE = "release"
    """Fail open: what was held is sent, the rest streams through; the hook never sees the block."""


class PolicyConfig(BaseModel):
    """Settings every policy has; a policy's own config model subclasses this."""

    model_config = ConfigDict(extra="forbid")

    on_error: OnError = OnError.FAIL


@dataclass(slots=True)
class PolicyContext:
    """What a policy knows about the call in progress. One per call and policy instance.

    Attributes:
        transaction_id: the call's id (also in the `X-Luthien-Transaction-Id` header).
        policy_name: the configured name of the policy instance.
        activity: where `record` publishes (the call's `CallActivity` in the gateway; any
            `ActivityLog` in tests).
        models: calls configured upstreams (for judges); None where no upstreams exist (unit tests).
        request: the request as this policy passed it on (set after `on_request`).
        state: per-call scratch space for the policy.
        max_held_bytes: bytes the policy may hold back in this call (`LUTHIEN_MAX_HELD_BYTES`);
            None: no limit (contexts built outside the gateway, e.g. unit tests).
        client_headers: the client's request headers that are not credentials (names lower-case),
            e.g. `anthropic-beta`, which a policy re-sending the request must send along.
        approvals: where held tool calls wait for a person (`human_approval`); None outside the gateway.
        session_id: the agent session of the call, when the client said which.
    """

    transaction_id: str
    policy_name: str
    activity: ActivitySink
    models: ModelCaller | None = None
    request: CallRequest | None = None
    state: dict[str, Any] = field(default_factory=dict[str, Any])
    max_held_bytes: int | None = None
    client_headers: dict[str, str] = field(default_factory=dict[str, str])
    approvals: ApprovalService | None = None
    session_id: str | None = None

    def for_policy(self, name: str) -> PolicyContext:
        """A fresh context for another policy in the same call (chain members)."""
        return PolicyContext(
            self.transaction_id,
            name,
            self.activity,
            self.models,
            max_held_bytes=self.max_held_bytes,
            client_headers=self.client_headers,
            approvals=self.approvals,
            session_id=self.session_id,
        )

    def record(self, type: str, **data: Any) -> None:
        """Publish an activity event for this call (JSON-serializable data, no secrets)."""
        self.activity.publish(ActivityEvent(self.transaction_id, type, data, self.policy_name))

    def record_blocked(self, reason: str, tool_call: ToolCall | None = None, **data: Any) -> None:
        """Record that this policy blocked something (a `policy.blocked` event).

        The call's transaction record is marked `blocked` because of this event, so a policy that
        withholds anything from the client (a tool call, a refusal) should record it.

        Args:
            reason: why, in a sentence.
            tool_call: the blocked tool call, if it was one (its name and id are recorded).
            **data: further JSON-serializable details (never secrets).
        """
        if tool_call is not None:
            data = {"tool": tool_call.name, "tool_call_id": tool_call.id, **data}
        self.record(BLOCKED_EVENT, reason=reason, **data)

    @property
    def logger(self) -> logging.Logger:
        """A logger named after the policy."""
        return logging.getLogger(f"luthien.policy.{self.policy_name}")


ConfigT = TypeVar("ConfigT", bound=PolicyConfig)


class Policy(Generic[ConfigT]):
    """Base class of every policy. Subclasses set `config_model` when they have settings.

    Attributes:
        name: the configured instance name.
        config: the validated config.
        holds: block kinds buffered until complete (see the module docstring).
        on_held_overflow: what happens to a held block that outgrows `LUTHIEN_MAX_HELD_BYTES`
            (blocked by default: a judge that cannot see the whole call must not pass it).
    """

    config_model: ClassVar[type[PolicyConfig]] = PolicyConfig
    holds: ClassVar[frozenset[BlockKind]] = frozenset()
    on_held_overflow: ClassVar[OnHeldOverflow] = OnHeldOverflow.BLOCK

    def __init__(self, config: ConfigT, name: str = "") -> None:
        self.config = config
        self.name = name or type(self).__name__

    @property
    def on_error(self) -> OnError:
        """Fail closed or open when a hook raises."""
        return self.config.on_error

    @property
    def inspects_response(self) -> bool:
        """Whether any response hook is overridden or any block is held.

        A policy that does neither never sees the response, which then streams through as raw
        bytes without being decoded.
        """
        return _overrides_response_hooks(type(self)) or bool(self.holds)

    @classmethod
    def from_config(
        cls, raw: dict[str, Any], name: str, resolve: Callable[[str], Policy[Any]]
    ) -> Policy[Any]:
        """Build an instance from its config mapping (validated by `config_model`).

        Args:
            raw: the `config` mapping from the config file.
            name: the instance name.
            resolve: looks up another named instance (for composite policies).

        Raises:
            pydantic.ValidationError: the config is invalid.
        """
        return cls(cast(ConfigT, cls.config_model.model_validate(raw)), name)

    def check_config(self, config: LuthienConfig) -> None:
        """Check this instance against the whole config (e.g. that a judge's upstream exists).

        Raises:
            ConfigError: the instance refers to something the config lacks.
        """

    def runner(self, ctx: PolicyContext) -> Runner | None:
        """The per-call machinery of a composite policy (a chain runs its members' runners in turn).

        None, the default, means this policy's own hooks run (`luthien.policy.runner.runner_for`).
        """
        return None

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        """Inspect or change the request before it goes upstream."""
        return request

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        """The response began."""
        return [event]

    async def on_block_start(self, event: BlockStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        """A block began (not called for held kinds)."""
        return [event]

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        """A piece of a block arrived (not called for held kinds)."""
        return [event]

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        """A block ended; `event.block` is its whole value. For held kinds, return what to send."""
        return [event]

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        """The response ended. Return extra events before `event` to append blocks."""
        return [event]


RESPONSE_HOOKS = (
    "on_message_start",
    "on_block_start",
    "on_block_delta",
    "on_block_complete",
    "on_message_complete",
)


@functools.cache
def _overrides_response_hooks(cls: type[Policy[Any]]) -> bool:
    """Whether `cls` overrides a response hook (asked several times per call: cached per class)."""
    return any(getattr(cls, hook) is not getattr(Policy, hook) for hook in RESPONSE_HOOKS)
