"""A structured diff of two JSON values: the JSON-pointer paths where they differ.

Objects are compared key by key; arrays element by element, aligned on equal elements first so that
one inserted content block reads as one `added` change rather than a cascade. Each difference is
`{"path": "/content/1/input/command", "op": "changed"|"added"|"removed", "before": ..., "after": ...}`
(`before` is absent for `added`, `after` for `removed`). `path` locates the change in the final value
(in the original for `removed`); when array realignment puts it elsewhere in the original, the change
also carries `original_path`. The web UI highlights these paths.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import orjson


class ChangeOp(StrEnum):
    """What happened at a path."""

    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the original and the final value."""

    path: str
    op: ChangeOp
    before: Any = _MISSING
    after: Any = _MISSING
    original_path: str | None = None

    @property
    def path_in_original(self) -> str:
        """Where the change is in the original value."""
        return self.path if self.original_path is None else self.original_path

    def to_json(self) -> dict[str, Any]:
        """The API form: `path`, `op`, `before` and/or `after`, and `original_path` when it differs."""
        out: dict[str, Any] = {"path": self.path, "op": self.op.value}
        if self.original_path is not None and self.original_path != self.path:
            out["original_path"] = self.original_path
        if self.before is not _MISSING:
            out["before"] = self.before
        if self.after is not _MISSING:
            out["after"] = self.after
        return out


def pointer_token(key: str | int) -> str:
    """One JSON-pointer token (RFC 6901 escaping of `~` and `/`)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _same(before: Any, after: Any) -> bool:
    # JSON true is not 1: compare types as well as values.
    return type(before) is type(after) and before == after


def _fingerprint(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def json_diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every difference between two parsed JSON values, in document order."""
    changes: list[Change] = []
    _diff(before, after, path, path, changes)
    return changes


def _diff(before: Any, after: Any, old_path: str, path: str, out: list[Change]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        _diff_objects(cast(dict[str, Any], before), cast(dict[str, Any], after), old_path, path, out)
    elif isinstance(before, list) and isinstance(after, list):
        _diff_arrays(cast(list[Any], before), cast(list[Any], after), old_path, path, out)
    elif not _same(before, after):
        out.append(Change(path, ChangeOp.CHANGED, before, after, original_path=old_path))


def _diff_objects(
    before: dict[str, Any], after: dict[str, Any], old_path: str, path: str, out: list[Change]
) -> None:
    for key, value in before.items():
        token = pointer_token(key)
        if key in after:
            _diff(value, after[key], f"{old_path}/{token}", f"{path}/{token}", out)
        else:
            out.append(Change(f"{old_path}/{token}", ChangeOp.REMOVED, before=value))
    for key, value in after.items():
        if key not in before:
            out.append(Change(f"{path}/{pointer_token(key)}", ChangeOp.ADDED, after=value))


def _diff_arrays(before: list[Any], after: list[Any], old_path: str, path: str, out: list[Change]) -> None:
    if len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            _diff(old, new, f"{old_path}/{index}", f"{path}/{index}", out)
        return
    matcher = difflib.SequenceMatcher(
        None, [_fingerprint(v) for v in before], [_fingerprint(v) for v in after], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        # Elements replaced one for one differ inside (e.g. a tool call turned into text).
        for offset in range(paired):
            old, new = i1 + offset, j1 + offset
            _diff(before[old], after[new], f"{old_path}/{old}", f"{path}/{new}", out)
        for index in range(i1 + paired, i2):
            out.append(Change(f"{old_path}/{index}", ChangeOp.REMOVED, before=before[index]))
        for index in range(j1 + paired, j2):
            out.append(Change(f"{path}/{index}", ChangeOp.ADDED, after=after[index]))
