"""`ShadowSet`: which configured policy instances run in shadow, and starting them for a call.

The config's `shadow: [name, ...]` sets the initial list; the admin API and UI switch it at run
time (`luthien.admin.policies`), and every replica follows. A call already started keeps the
shadows it started with. The enforcing policy of a call is never also its shadow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from luthien.call.request import CallRequest
from luthien.policy.base import Policy
from luthien.settings import Settings
from luthien.shadow.run import ShadowCall, ShadowRunner
from luthien.shadow.tasks import BackgroundTasks
from luthien.upstream.caller import ModelCaller
from luthien.wire.apis import WireApi

SHADOW_DRAIN_MARGIN_S = 5.0
"""Extra seconds shutdown waits for shadow work, beyond the shadow timeout itself."""


class UnknownShadow(KeyError):
    """A shadow name that is not a configured policy instance.

    Attributes:
        name: the unknown name.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class ShadowSet:
    """The shadow policies, and the background work their calls leave behind.

    Attributes:
        names: the shadow policy instances, in order.
        tasks: each call's wait for its shadows and the record that follows (drained at shutdown).
    """

    def __init__(self, policies: Mapping[str, Policy[Any]], names: Iterable[str], settings: Settings) -> None:
        self._policies = policies
        self._settings = settings
        self.names: tuple[str, ...] = ()
        self.tasks = BackgroundTasks()
        self.switch(names)

    def switch(self, names: Iterable[str]) -> tuple[str, ...]:
        """Make `names` (duplicates dropped, order kept) the shadows of calls started from now on.

        Returns:
            The previous list.

        Raises:
            UnknownShadow: a name is not a configured policy instance (nothing changes).
        """
        wanted = tuple(dict.fromkeys(names))
        for name in wanted:
            if name not in self._policies:
                raise UnknownShadow(name)
        previous, self.names = self.names, wanted
        return previous

    def start(
        self,
        transaction_id: str,
        api: WireApi,
        request: CallRequest,
        enforcing: str,
        models: ModelCaller | None,
    ) -> ShadowCall | None:
        """Start the shadows of one call (None when there are none besides the enforcing policy)."""
        names = [name for name in self.names if name != enforcing]
        if not names:
            return None
        settings = self._settings
        runners = [
            ShadowRunner(
                name,
                self._policies[name],
                api,
                request,
                transaction_id,
                models,
                settings.max_held_bytes,
                settings.shadow_max_queued_bytes,
                settings.max_record_response_bytes,
            )
            for name in names
        ]
        return ShadowCall(runners, api.name, settings.shadow_timeout_s)

    async def drain(self) -> None:
        """Let every call's shadow work finish (bounded by the shadow timeout), at shutdown."""
        await self.tasks.drain(self._settings.shadow_timeout_s + SHADOW_DRAIN_MARGIN_S)
