"""Which policy classes exist and how named instances are built from the config.

A policy `class` in the config is either a registered short name (below) or `module:Class`, imported
from the Python path of the server process (see docs/security.md for who controls that). Each
instance's `config` is validated by the class's own pydantic model; errors name the field as
`policies.<name>.config.<field>`.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from luthien.config import ConfigError, LuthienConfig, PolicyEntry, describe_validation_error
from luthien.policy.base import Policy

REGISTERED: dict[str, str] = {
    "noop": "luthien.policies.noop:NoopPolicy",
    "all_caps": "luthien.policies.all_caps:AllCapsPolicy",
    "string_replace": "luthien.policies.string_replace:StringReplacePolicy",
    "debug_logging": "luthien.policies.debug_logging:DebugLoggingPolicy",
    "chain": "luthien.policies.chain:ChainPolicy",
    "tool_call_judge": "luthien.policies.tool_call_judge:ToolCallJudgePolicy",
    "simple_tool_call_judge": "luthien.policies.simple_tool_call_judge:SimpleToolCallJudgePolicy",
    "block_commands": "luthien.policies.block_commands:BlockCommandsPolicy",
}
"""Short name → `module:Class` of every shipped policy."""

DEFAULT_POLICY = "noop"


def resolve_class(reference: str) -> type[Policy[Any]]:
    """The policy class named by a short name or `module:Class`.

    Raises:
        ConfigError: unknown name, import failure, or not a `Policy` subclass.
    """
    target = REGISTERED.get(reference, reference)
    module_name, _, class_name = target.partition(":")
    if not class_name:
        known = ", ".join(sorted(REGISTERED))
        raise ConfigError(f"unknown policy class {reference!r} (registered: {known}; or use module:Class)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"cannot import policy module {module_name!r}: {error}") from error
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise ConfigError(f"{target!r} is not a Policy subclass")
    return cls  # pyright: ignore[reportUnknownVariableType]


def build_policies(config: LuthienConfig, active: str) -> dict[str, Policy[Any]]:
    """Every policy instance the config defines, plus `active` (a registered name needs no entry).

    Raises:
        ConfigError: a class cannot be resolved, a config is invalid, or chains reference unknown
            names or each other in a cycle.
    """
    built: dict[str, Policy[Any]] = {}
    in_progress: list[str] = []

    def get(name: str) -> Policy[Any]:
        if name in built:
            return built[name]
        if name in in_progress:
            raise ConfigError(f"policies.{name}: chain cycle {' -> '.join([*in_progress, name])}")
        entry = config.policies.get(name)
        if entry is None:
            if name not in REGISTERED:
                raise ConfigError(f"policy {name!r} is neither defined under `policies` nor registered")
            entry = PolicyEntry.model_validate({"class": name})
        in_progress.append(name)
        try:
            cls = resolve_class(entry.class_name)
            policy = cls.from_config(entry.config, name, get)
            policy.check_config(config)
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, f"policies.{name}.config")) from error
        except ConfigError as error:
            raise ConfigError(f"policies.{name}: {error}") from error
        finally:
            in_progress.pop()
        built[name] = policy
        return policy

    for name in config.policies:
        get(name)
    get(active)
    return built


def active_policy_name(config: LuthienConfig, test_policy: str | None) -> str:
    """The policy serving calls: `LUTHIEN_TEST_POLICY`, else the config's `policy`, else noop."""
    return test_policy or config.policy or DEFAULT_POLICY
