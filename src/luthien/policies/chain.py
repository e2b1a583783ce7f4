"""`chain`: runs several named policies in order, for requests and for responses.

```yaml
policies:
  guarded:
    class: chain
    config: {policies: [redact, judge]}
```
The request passes through each policy's `on_request` in order; the response events pass through
the first policy, whose (repaired) output feeds the second, and so on. Each member keeps its own
per-call state and its own `on_error` choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from luthien.policy.base import Policy, PolicyConfig, PolicyContext, Runner
from luthien.policy.runner import ChainRunner, runner_for


class ChainConfig(PolicyConfig):
    """The member policies, by configured name, in order."""

    policies: list[str] = Field(min_length=1)


class ChainPolicy(Policy[ChainConfig]):
    """Composes member policies."""

    config_model = ChainConfig

    def __init__(self, config: ChainConfig, name: str = "", members: list[Policy[Any]] | None = None) -> None:
        super().__init__(config, name)
        self.members = members or []

    @classmethod
    def from_config(
        cls, raw: dict[str, Any], name: str, resolve: Callable[[str], Policy[Any]]
    ) -> Policy[Any]:
        """Validate the config and look up each member by name."""
        config = ChainConfig.model_validate(raw)
        return cls(config, name, [resolve(member) for member in config.policies])

    @property
    def inspects_response(self) -> bool:
        """True when any member looks at the response."""
        return any(member.inspects_response for member in self.members)

    def runner(self, ctx: PolicyContext) -> Runner:
        """One runner per member, each with its own context (and state)."""
        return ChainRunner([runner_for(member, ctx.for_policy(member.name)) for member in self.members])
