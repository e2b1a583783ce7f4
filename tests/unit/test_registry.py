"""The policy registry and config: class resolution, `module:Class`, validation, chains, the CLI.

Errors are asserted by type (`ConfigError`, and the pydantic cause where there is one), never by
message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from luthien.call.events import BlockDelta, CallEvent
from luthien.cli import main
from luthien.config import ConfigError, LuthienConfig, load_config
from luthien.policies.all_caps import AllCapsPolicy
from luthien.policies.chain import ChainPolicy
from luthien.policies.noop import NoopPolicy
from luthien.policies.string_replace import StringReplacePolicy
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.registry import (
    DEFAULT_POLICY,
    REGISTERED,
    active_policy_name,
    build_policies,
    resolve_class,
)


class MyConfig(PolicyConfig):
    """A test policy's settings."""

    suffix: str = "!"
    repeat: int = 1


class MyPolicy(Policy[MyConfig]):
    """A policy defined outside Luthien, loaded as `tests.unit.test_registry:MyPolicy`."""

    config_model = MyConfig

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        return [event]


class NotAPolicy:
    """Has the right shape of name but is no `Policy`."""


not_a_class = 42
MY_POLICY = "tests.unit.test_registry:MyPolicy"


def config(policies: dict[str, Any], policy: str | None = None) -> LuthienConfig:
    return LuthienConfig.model_validate({"policies": policies, "policy": policy})


# --- resolving classes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_every_registered_name_resolves_to_a_policy_class(name: str) -> None:
    cls = resolve_class(name)

    assert issubclass(cls, Policy)
    assert f"{cls.__module__}:{cls.__name__}" == REGISTERED[name]


def test_shipped_short_names() -> None:
    assert {"noop", "all_caps", "string_replace", "debug_logging", "chain"} <= set(REGISTERED)
    assert DEFAULT_POLICY == "noop"


def test_module_colon_class_is_imported() -> None:
    assert resolve_class(MY_POLICY) is MyPolicy
    assert resolve_class("luthien.policies.all_caps:AllCapsPolicy") is AllCapsPolicy


@pytest.mark.parametrize(
    "reference",
    [
        "no_such_policy",
        "AllCapsPolicy",
        "no.such.module:Policy",
        "tests.unit.test_registry:Missing",
        "tests.unit.test_registry:NotAPolicy",
        "tests.unit.test_registry:not_a_class",
        "tests.unit.test_registry:",
    ],
)
def test_unresolvable_class_is_a_config_error(reference: str) -> None:
    with pytest.raises(ConfigError):
        resolve_class(reference)


# --- building instances -----------------------------------------------------------------------


def test_custom_class_is_built_with_its_validated_config() -> None:
    built = build_policies(
        config({"mine": {"class": MY_POLICY, "config": {"suffix": "?", "repeat": 3}}}, "mine"), "mine"
    )

    policy = built["mine"]
    assert isinstance(policy, MyPolicy)
    assert policy.name == "mine"
    assert (policy.config.suffix, policy.config.repeat, policy.config.on_error.value) == ("?", 3, "fail")


def test_every_configured_instance_is_built_plus_the_active_registered_one() -> None:
    built = build_policies(
        config(
            {
                "redact": {
                    "class": "string_replace",
                    "config": {"replacements": [{"find": "a", "replace": "b"}]},
                },
                "quiet": {"class": "noop", "config": {"on_error": "pass"}},
            }
        ),
        "all_caps",
    )

    assert set(built) == {"redact", "quiet", "all_caps"}
    assert isinstance(built["redact"], StringReplacePolicy)
    assert isinstance(built["quiet"], NoopPolicy)
    assert isinstance(built["all_caps"], AllCapsPolicy)
    assert built["all_caps"].name == "all_caps"


def test_a_registered_name_can_be_reconfigured_under_its_own_name() -> None:
    built = build_policies(
        config({"all_caps": {"class": MY_POLICY, "config": {"suffix": "#"}}}, "all_caps"), "all_caps"
    )

    assert isinstance(built["all_caps"], MyPolicy)


@pytest.mark.parametrize(
    "entry",
    [
        {"class": MY_POLICY, "config": {"repeat": "many"}},
        {"class": MY_POLICY, "config": {"unknown_field": 1}},
        {"class": MY_POLICY, "config": {"on_error": "explode"}},
        {"class": "string_replace", "config": {}},
        {
            "class": "string_replace",
            "config": {"replacements": [{"find": "[", "replace": "", "regex": True}]},
        },
        {"class": "chain", "config": {"policies": []}},
    ],
    ids=["wrong_type", "unknown_field", "bad_on_error", "missing_field", "bad_regex", "empty_chain"],
)
def test_invalid_policy_config_is_a_config_error(entry: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        build_policies(config({"bad": entry}), "noop")

    assert isinstance(error.value.__cause__, ValidationError)


def test_unknown_class_in_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        build_policies(config({"x": {"class": "does_not_exist"}}), "x")


def test_unknown_active_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        build_policies(config({}), "nobody_defined_this")


def test_policy_entry_without_class_is_invalid() -> None:
    with pytest.raises(ValidationError):
        LuthienConfig.model_validate({"policies": {"x": {"config": {}}}})


# --- chains -----------------------------------------------------------------------------------


def test_chain_members_are_resolved_by_name_in_order() -> None:
    built = build_policies(
        config(
            {
                "guarded": {"class": "chain", "config": {"policies": ["redact", "all_caps", "mine"]}},
                "redact": {
                    "class": "string_replace",
                    "config": {"replacements": [{"find": "a", "replace": "b"}]},
                },
                "mine": {"class": MY_POLICY},
            }
        ),
        "guarded",
    )

    chain = built["guarded"]
    assert isinstance(chain, ChainPolicy)
    assert [member.name for member in chain.members] == ["redact", "all_caps", "mine"]
    assert chain.members[0] is built["redact"]
    assert chain.members[2] is built["mine"]
    assert chain.inspects_response


def test_chain_of_response_blind_members_does_not_inspect_the_response() -> None:
    built = build_policies(config({"c": {"class": "chain", "config": {"policies": ["noop"]}}}), "c")

    assert not built["c"].inspects_response


def test_chains_may_nest() -> None:
    built = build_policies(
        config(
            {
                "outer": {"class": "chain", "config": {"policies": ["inner", "noop"]}},
                "inner": {"class": "chain", "config": {"policies": ["all_caps"]}},
            }
        ),
        "outer",
    )

    outer = built["outer"]
    assert isinstance(outer, ChainPolicy)
    assert outer.members[0] is built["inner"]


@pytest.mark.parametrize(
    "policies",
    [
        {"a": {"class": "chain", "config": {"policies": ["a"]}}},
        {
            "a": {"class": "chain", "config": {"policies": ["b"]}},
            "b": {"class": "chain", "config": {"policies": ["noop", "a"]}},
        },
        {
            "a": {"class": "chain", "config": {"policies": ["b"]}},
            "b": {"class": "chain", "config": {"policies": ["c"]}},
            "c": {"class": "chain", "config": {"policies": ["a"]}},
        },
    ],
    ids=["self", "pair", "triangle"],
)
def test_chain_cycle_is_a_config_error(policies: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        build_policies(config(policies), "noop")


def test_chain_with_an_unknown_member_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        build_policies(config({"c": {"class": "chain", "config": {"policies": ["all_caps", "ghost"]}}}), "c")


# --- which policy is active -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_policy", "test_policy", "expected"),
    [
        (None, None, "noop"),
        ("redact", None, "redact"),
        ("redact", "all_caps", "all_caps"),
        (None, "all_caps", "all_caps"),
    ],
)
def test_active_policy_name(config_policy: str | None, test_policy: str | None, expected: str) -> None:
    assert active_policy_name(config({}, config_policy), test_policy) == expected


# --- the CLI ----------------------------------------------------------------------------------


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_cli_policies_lists_every_registered_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policies"]) == 0

    listed = [line.partition(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == sorted(REGISTERED)


def test_cli_policies_with_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policies", "--schema"]) == 0

    out = capsys.readouterr().out
    assert all(f"{name}:" in out for name in REGISTERED)


def test_cli_check_config_accepts_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(
        tmp_path / "ok.yaml",
        {
            "policy": "guarded",
            "policies": {
                "guarded": {"class": "chain", "config": {"policies": ["redact", "all_caps"]}},
                "redact": {
                    "class": "string_replace",
                    "config": {"replacements": [{"find": "x", "replace": "y"}]},
                },
                "mine": {"class": MY_POLICY, "config": {"suffix": "?"}},
            },
        },
    )

    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out


@pytest.mark.parametrize(
    "data",
    [
        {"policies": {"bad": {"class": "string_replace", "config": {"replacements": "nope"}}}},
        {"policies": {"loop": {"class": "chain", "config": {"policies": ["loop"]}}}},
        {"policies": {"c": {"class": "chain", "config": {"policies": ["ghost"]}}}},
        {"policies": {"x": {"class": "no.such.module:Nope"}}},
        {"policy": "undefined_name"},
        {"policies": {"x": {"klass": "noop"}}},
    ],
    ids=["bad_config", "cycle", "unknown_member", "unknown_module", "unknown_active", "not_a_policy_entry"],
)
def test_cli_check_config_rejects_an_invalid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, Any]
) -> None:
    path = write_config(tmp_path / "bad.yaml", data)

    assert main(["check-config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err
    assert not captured.out


def test_cli_check_config_rejects_a_missing_file(tmp_path: Path) -> None:
    assert main(["check-config", str(tmp_path / "absent.yaml")]) == 2


def test_load_config_reads_policies(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.yaml",
        {"policy": "mine", "policies": {"mine": {"class": MY_POLICY, "config": {"repeat": 2}}}},
    )

    loaded = load_config(path)

    assert loaded.policy == "mine"
    assert loaded.policies["mine"].class_name == MY_POLICY
    assert loaded.policies["mine"].config == {"repeat": 2}
