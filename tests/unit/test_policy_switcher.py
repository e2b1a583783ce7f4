"""Switching the active policy, and applying switches other replicas published on the bus."""

from __future__ import annotations

import asyncio
import logging

import pytest

from luthien.admin.policies import PolicySwitcher, UnknownPolicy
from luthien.config import LuthienConfig
from luthien.events.bus import POLICY_SWITCHED, TRANSACTION_COMPLETED, LiveEvent
from luthien.events.memory import MemoryEventBus
from luthien.gateway.selection import PolicySelector
from luthien.policy.registry import build_policies

CONFIG = LuthienConfig.model_validate(
    {"policies": {"shout": {"class": "all_caps"}, "loud": {"class": "all_caps"}}, "policy": "noop"}
)


def switcher(bus: MemoryEventBus | None = None, configured: str = "noop") -> PolicySwitcher:
    return PolicySwitcher(
        PolicySelector(build_policies(CONFIG, configured), configured, allow_header=False),
        bus or MemoryEventBus(),
    )


def switched(policy: object, event_id: str = "1-0") -> LiveEvent:
    return LiveEvent(
        event_id, POLICY_SWITCHED, "", {"policy": policy, "previous": "noop", "by": "admin-key"}, 1.0
    )


def test_a_switch_changes_the_policy_chosen_for_new_calls() -> None:
    policies = switcher()
    name_before, policy_before = policies.selector.choose([])

    previous = policies.switch("shout", "loopback")
    name_after, policy_after = policies.selector.choose([])

    assert (previous, name_before, name_after) == ("noop", "noop", "shout")
    assert policy_before is not policy_after
    assert policies.listing()["active"] == "shout"
    assert policies.listing()["policies"][0]["name"] == "shout"


def test_an_unknown_policy_changes_nothing() -> None:
    policies = switcher()

    with pytest.raises(UnknownPolicy):
        policies.switch("missing", "loopback")

    assert policies.active == "noop"


def test_switches_from_the_bus_are_applied_in_order() -> None:
    policies = switcher()

    policies.apply(switched("shout", "1-0"))
    policies.apply(LiveEvent("2-0", TRANSACTION_COMPLETED, "tx", {"policy": "noop"}, 1.0))
    assert policies.active == "shout"
    policies.apply(switched("noop", "3-0"))
    assert policies.active == "noop"


def test_a_switch_to_a_policy_this_replica_lacks_is_logged_and_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policies = switcher()

    with caplog.at_level(logging.ERROR, logger="luthien.admin"):
        policies.apply(switched("only-elsewhere"))
        policies.apply(switched(42))

    assert policies.active == "noop"
    assert len(caplog.records) == 1


@pytest.mark.asyncio
async def test_a_starting_replica_adopts_the_last_switch_made_under_its_configuration() -> None:
    bus = MemoryEventBus()
    running = switcher(bus)
    running.switch("shout", "admin-key")
    running.switch("noop", "admin-key")
    running.switch("shout", "admin-key")

    starting = switcher(bus)
    async with starting.running():
        assert starting.active == "shout"


@pytest.mark.asyncio
async def test_a_replica_configured_with_another_policy_keeps_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MemoryEventBus()
    switcher(bus).switch("shout", "admin-key")

    redeployed = switcher(bus, configured="loud")
    with caplog.at_level(logging.WARNING, logger="luthien.admin"):
        async with redeployed.running():
            assert redeployed.active == "loud"
    assert any(record.levelno == logging.WARNING for record in caplog.records)


@pytest.mark.asyncio
async def test_switches_after_startup_are_followed() -> None:
    bus = MemoryEventBus()
    starting = switcher(bus)
    async with starting.running():
        switcher(bus).switch("shout", "admin-key")
        for _ in range(100):
            if starting.active == "shout":
                break
            await asyncio.sleep(0)
        assert starting.active == "shout"
