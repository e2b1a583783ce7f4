"""Which policy classes exist and how named instances are built from the config.

A policy `class` in the config is either a registered short name (below) or `module:Class`, imported
from the Python path of the server process (see docs/security.md for who controls that). Each
instance's `config` is validated by the class's own pydantic model; errors name the field as
`policies.<name>.config.<field>`.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from luthien.config import (
    ConfigError,
    LuthienConfig,
    PolicyEntry,
    describe_validation_error,
    validation_error_fields,
)
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
    "drop_thinking": "luthien.policies.drop_thinking:DropThinkingPolicy",
    "defer_to_trusted": "luthien.policies.defer_to_trusted:DeferToTrustedPolicy",
    "human_approval": "luthien.policies.human_approval:HumanApprovalPolicy",
}
"""Short name → `module:Class` of every shipped policy."""

DEFAULT_POLICY = "noop"
SUGGESTION_CUTOFF = 0.6
"""How close (difflib ratio) a name must be to be offered as "did you mean"."""


def _suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=SUGGESTION_CUTOFF)
    return close[0] if close else None


def _import(module_name: str) -> ModuleType:
    """Import a policy module, turning every way it can fail into a `ConfigError`."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise ConfigError(
                f"no module named {module_name!r} (is its directory on PYTHONPATH?)",
                problem="module_not_found",
            ) from error
        raise ConfigError(
            f"policy module {module_name!r} failed to import: it needs module {missing!r}, "
            "which is not installed",
            problem="import_failed",
        ) from error
    except SyntaxError as error:
        where = f"{error.filename}:{error.lineno}" if error.filename else module_name
        raise ConfigError(
            f"policy module {module_name!r} has a syntax error at {where}: {error.msg}",
            problem="syntax_error",
        ) from error
    except Exception as error:
        raise ConfigError(
            f"policy module {module_name!r} failed to import: {type(error).__name__}: {error}",
            problem="import_failed",
        ) from error


def resolve_class(reference: str) -> type[Policy[Any]]:
    """The policy class named by a short name or `module:Class`.

    Raises:
        ConfigError: unknown name, import failure (missing module, syntax error, an exception at
            import), a class the module lacks, or not a `Policy` subclass; `problem` and
            `suggestion` say which and what was probably meant.
    """
    target = REGISTERED.get(reference, reference)
    module_name, _, class_name = target.partition(":")
    if not class_name:
        known = ", ".join(sorted(REGISTERED))
        raise ConfigError(
            f"unknown policy class {reference!r} (registered: {known}; or use module:Class)",
            problem="unknown_policy",
            suggestion=_suggest(reference, REGISTERED),
        )
    module = _import(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        policies = [name for name, value in vars(module).items() if _is_policy_class(value)]
        raise ConfigError(
            f"module {module_name!r} has no class {class_name!r}",
            problem="missing_class",
            suggestion=_suggest(class_name, policies or list(vars(module))),
        )
    if not _is_policy_class(cls):
        raise ConfigError(f"{target!r} is not a Policy subclass", problem="not_a_policy")
    return cls  # pyright: ignore[reportReturnType]


def _is_policy_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Policy)


def build_policies(config: LuthienConfig, active: str) -> dict[str, Policy[Any]]:
    """Every policy instance the config defines, plus `active` (a registered name needs no entry).

    Raises:
        ConfigError: a class cannot be resolved, a config is invalid, a constructor raises, or
            chains reference unknown names or each other in a cycle. `entry` names the config
            entry at fault.
    """
    built: dict[str, Policy[Any]] = {}
    in_progress: list[str] = []

    def get(name: str) -> Policy[Any]:
        if name in built:
            return built[name]
        if name in in_progress:
            raise ConfigError(
                f"policies.{name}: chain cycle {' -> '.join([*in_progress, name])}",
                problem="chain_cycle",
                entry=name,
            )
        entry = config.policies.get(name)
        if entry is None:
            if name not in REGISTERED:
                raise ConfigError(
                    f"policy {name!r} is neither defined under `policies` nor registered",
                    problem="unknown_policy",
                    suggestion=_suggest(name, [*config.policies, *REGISTERED]),
                )
            entry = PolicyEntry.model_validate({"class": name})
        in_progress.append(name)
        try:
            policy = _build(name, entry, config, get)
        finally:
            in_progress.pop()
        built[name] = policy
        return policy

    for name in config.policies:
        get(name)
    try:
        get(active)
    except ConfigError as error:
        if error.entry is not None:
            raise
        raise ConfigError(
            f"policy: {error.detail}", problem=error.problem, field="policy", suggestion=error.suggestion
        ) from error
    for index, name in enumerate(config.shadow):
        try:
            get(name)
        except ConfigError as error:
            if error.entry is not None:
                raise
            field = f"shadow[{index}]"
            raise ConfigError(
                f"{field}: {error.detail}", problem=error.problem, field=field, suggestion=error.suggestion
            ) from error
    return built


def _build(
    name: str, entry: PolicyEntry, config: LuthienConfig, resolve: Callable[[str], Policy[Any]]
) -> Policy[Any]:
    """One entry's instance; every failure is a `ConfigError` naming the entry."""
    try:
        cls = resolve_class(entry.class_name)
    except ConfigError as error:
        raise ConfigError(
            f"policies.{name}.class: {error.detail}",
            problem=error.problem,
            entry=error.entry or name,
            field=f"policies.{name}.class",
            suggestion=None if error.suggestion is None else _qualified(entry.class_name, error.suggestion),
        ) from error
    try:
        policy = cls.from_config(entry.config, name, resolve)
        policy.check_config(config)
    except ValidationError as error:
        prefix = f"policies.{name}.config"
        raise ConfigError(
            describe_validation_error(error, prefix),
            problem="invalid_config",
            entry=name,
            field=validation_error_fields(error, prefix)[0],
        ) from error
    except ConfigError as error:
        if error.entry is not None:
            raise  # a chain member's own error: it names its entry already
        raise ConfigError(
            f"policies.{name}: {error.detail}",
            problem=error.problem,
            entry=name,
            field=error.field,
            suggestion=error.suggestion,
        ) from error
    except Exception as error:
        # The policy's own constructor raised: say which entry, not a traceback.
        raise ConfigError(
            f"policies.{name}: {entry.class_name} raised {type(error).__name__} while starting: {error}",
            problem="constructor_failed",
            entry=name,
        ) from error
    return policy


def _qualified(reference: str, suggestion: str) -> str:
    """A suggested class name in the form the config used (`module:Suggestion`)."""
    module_name, separator, _ = reference.partition(":")
    return f"{module_name}:{suggestion}" if separator else suggestion


def active_policy_name(config: LuthienConfig, test_policy: str | None) -> str:
    """The policy serving calls: `LUTHIEN_TEST_POLICY`, else the config's `policy`, else noop."""
    return test_policy or config.policy or DEFAULT_POLICY
