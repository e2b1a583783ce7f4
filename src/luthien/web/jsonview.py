"""Pretty-printed JSON as lines that know their JSON-pointer path, for diff highlighting.

Each line is marked `changed`, `added` or `removed` when it lies at or under a path of the structured
diff (`luthien.admin.diff`), so the original and final versions can be shown side by side with the
differences highlighted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import orjson

from luthien.admin.diff import Change, ChangeOp, pointer_token
from luthien.admin.serialize import BodyPair, body_pair

INDENT = "  "


@dataclass(frozen=True, slots=True)
class JsonLine:
    """One line of the pretty-printed value."""

    text: str
    path: str
    mark: str = ""


def _scalar(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def json_lines(value: Any, marks: dict[str, str]) -> list[JsonLine]:
    """The value, indented like `json.dumps(indent=2)`, each line marked by `marks` (path → mark)."""
    out: list[JsonLine] = []
    _emit(value, "", 0, "", marks.get("", ""), marks, out, last=True)
    return out


def _emit(
    value: Any,
    path: str,
    depth: int,
    prefix: str,
    mark: str,
    marks: dict[str, str],
    out: list[JsonLine],
    last: bool,
) -> None:
    pad = INDENT * depth
    comma = "" if last else ","
    if isinstance(value, dict) and value:
        mapping = cast(dict[str, Any], value)
        out.append(JsonLine(f"{pad}{prefix}{{", path, mark))
        for position, (key, item) in enumerate(mapping.items()):
            child = f"{path}/{pointer_token(key)}"
            label = f"{_scalar(key)}: "
            _emit(
                item,
                child,
                depth + 1,
                label,
                marks.get(child, mark),
                marks,
                out,
                position == len(mapping) - 1,
            )
        out.append(JsonLine(f"{pad}}}{comma}", path, mark))
    elif isinstance(value, list) and value:
        items = cast(list[Any], value)
        out.append(JsonLine(f"{pad}{prefix}[", path, mark))
        for index, item in enumerate(items):
            child = f"{path}/{index}"
            _emit(item, child, depth + 1, "", marks.get(child, mark), marks, out, index == len(items) - 1)
        out.append(JsonLine(f"{pad}]{comma}", path, mark))
    else:
        out.append(JsonLine(f"{pad}{prefix}{_scalar(value)}{comma}", path, mark))


def original_marks(changes: Iterable[Change]) -> dict[str, str]:
    """Paths to highlight in the original version: what was changed or removed."""
    return {c.path_in_original: c.op.value for c in changes if c.op in (ChangeOp.CHANGED, ChangeOp.REMOVED)}


def final_marks(changes: Iterable[Change]) -> dict[str, str]:
    """Paths to highlight in the final version: what was changed or added."""
    return {c.path: c.op.value for c in changes if c.op in (ChangeOp.CHANGED, ChangeOp.ADDED)}


@dataclass(frozen=True, slots=True)
class BodyViews:
    """A request or response ready for the page: the pair, and each version's marked lines."""

    pair: BodyPair
    original_lines: list[JsonLine]
    final_lines: list[JsonLine]


def body_views(original: bytes | None, final: bytes | None) -> BodyViews:
    """Pair two stored bodies and lay both out with their differences marked."""
    pair = body_pair(original, final)
    if pair.original is None:
        return BodyViews(pair, [], [])
    original_lines = json_lines(pair.original, original_marks(pair.changes))
    final_lines = json_lines(pair.final, final_marks(pair.changes)) if pair.changed else original_lines
    return BodyViews(pair, original_lines, final_lines)
