"""Switching the shadow policies, audited, and every replica following (the in-process bus)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from luthien.admin.policies import PolicySwitcher
from luthien.admin.shadow import ShadowSwitcher
from luthien.config import ConfigError, LuthienConfig
from luthien.events.bus import POLICY_SWITCHED, SHADOW_SWITCHED, LiveEvent
from luthien.events.memory import MemoryEventBus
from luthien.gateway.selection import PolicySelector
from luthien.policy.registry import build_policies
from luthien.settings import Settings
from luthien.shadow.policies import ShadowSet, UnknownShadow

CONFIG = LuthienConfig.model_validate(
    {"policies": {"shout": {"class": "all_caps"}, "loud": {"class": "all_caps"}}, "policy": "noop"}
)


def switcher(bus: MemoryEventBus, shadow: tuple[str, ...] = (), configured: str = "noop") -> PolicySwitcher:
    policies = build_policies(CONFIG, configured)
    shadows = ShadowSet(policies, shadow, Settings())
    return PolicySwitcher(
        PolicySelector(policies, configured, allow_header=False), bus, ShadowSwitcher(shadows, bus)
    )


@pytest.mark.asyncio
async def test_a_switch_is_published_with_who_made_it_and_the_whole_control_state() -> None:
    bus = MemoryEventBus()
    policies = switcher(bus)

    previous = policies.switch_shadow(["shout", "loud", "shout"], "admin-key")

    assert previous == ()
    assert policies.listing()["shadow"] == ["shout", "loud"]
    assert {p["name"]: p["shadow"] for p in policies.listing()["policies"]} == {
        "noop": False,
        "shout": True,
        "loud": True,
    }
    event = await bus.latest_control()
    assert event is not None
    assert event.type == SHADOW_SWITCHED
    assert event.data["shadow"] == ["shout", "loud"]
    assert event.data["by"] == "admin-key"
    assert event.data["policy"] == "noop"


def test_an_unknown_name_changes_nothing() -> None:
    policies = switcher(MemoryEventBus(), shadow=("shout",))

    with pytest.raises(UnknownShadow) as raised:
        policies.switch_shadow(["loud", "missing"], "admin-key")

    assert raised.value.name == "missing"
    assert policies.listing()["shadow"] == ["shout"]


def test_switches_from_the_bus_are_applied_and_bad_ones_ignored(caplog: pytest.LogCaptureFixture) -> None:
    policies = switcher(MemoryEventBus())

    policies.apply(LiveEvent("1-0", SHADOW_SWITCHED, "", {"shadow": ["shout"], "policy": "noop"}, 1.0))
    assert policies.listing()["shadow"] == ["shout"]
    policies.apply(LiveEvent("2-0", POLICY_SWITCHED, "", {"policy": "loud", "shadow": ["shout"]}, 1.0))
    assert (policies.active, policies.listing()["shadow"]) == ("loud", ["shout"])
    with caplog.at_level(logging.ERROR, logger="luthien.admin"):
        policies.apply(LiveEvent("3-0", SHADOW_SWITCHED, "", {"shadow": ["only-elsewhere"]}, 1.0))
        policies.apply(LiveEvent("4-0", SHADOW_SWITCHED, "", {"shadow": [1]}, 1.0))
        policies.apply(LiveEvent("5-0", SHADOW_SWITCHED, "", {"shadow": "shout"}, 1.0))
    assert policies.listing()["shadow"] == ["shout"]
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


@pytest.mark.asyncio
async def test_a_starting_replica_adopts_the_last_shadow_switch_and_the_policy_before_it() -> None:
    bus = MemoryEventBus()
    running = switcher(bus)
    running.switch("shout", "admin-key")
    running.switch_shadow(["loud"], "admin-key")

    starting = switcher(bus)
    async with starting.running():
        assert (starting.active, starting.listing()["shadow"]) == ("shout", ["loud"])


@pytest.mark.asyncio
async def test_a_replica_configured_with_other_shadows_keeps_its_own() -> None:
    bus = MemoryEventBus()
    switcher(bus).switch_shadow(["loud"], "admin-key")

    redeployed = switcher(bus, shadow=("shout",))
    async with redeployed.running():
        assert redeployed.listing()["shadow"] == ["shout"]


@pytest.mark.asyncio
async def test_shadow_switches_after_startup_are_followed() -> None:
    bus = MemoryEventBus()
    starting = switcher(bus)
    async with starting.running():
        switcher(bus).switch_shadow(["shout"], "admin-key")
        for _ in range(100):
            if starting.listing()["shadow"] == ["shout"]:
                break
            await asyncio.sleep(0)
        assert starting.listing()["shadow"] == ["shout"]


def test_a_policy_switcher_without_shadows_refuses_a_shadow_switch() -> None:
    bus = MemoryEventBus()
    plain = PolicySwitcher(PolicySelector(build_policies(CONFIG, "noop"), "noop", allow_header=False), bus)

    with pytest.raises(RuntimeError):
        plain.switch_shadow(["shout"], "admin-key")
    assert plain.listing()["shadow"] == []


@pytest.mark.parametrize(
    ("shadow", "field"),
    [(["missing"], "shadow[0]"), (["shout", "nope"], "shadow[1]")],
)
def test_an_unknown_shadow_in_the_config_is_a_config_error_naming_the_field(
    shadow: list[str], field: str
) -> None:
    config = CONFIG.model_copy(update={"shadow": shadow})

    with pytest.raises(ConfigError) as raised:
        build_policies(config, "noop")

    assert raised.value.field == field
    assert raised.value.problem == "unknown_policy"


def test_a_registered_short_name_may_run_in_shadow() -> None:
    config = CONFIG.model_copy(update={"shadow": ["all_caps"]})

    assert "all_caps" in build_policies(config, "noop")
