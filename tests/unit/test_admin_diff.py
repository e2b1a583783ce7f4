"""The structured JSON diff: paths, operations, array alignment, and what the UI highlights."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from luthien.admin.diff import json_diff

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


def diff(before: Any, after: Any) -> list[dict[str, Any]]:
    return [change.to_json() for change in json_diff(before, after)]


def test_a_blocked_tool_call_reads_as_changes_inside_the_replaced_block() -> None:
    original = {
        "content": [
            {"type": "text", "text": "Cleaning up."},
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "rm -rf /"}},
        ]
    }
    final = {"content": [{"type": "text", "text": "Cleaning up."}, {"type": "text", "text": "**Blocked**"}]}

    assert diff(original, final) == [
        {"path": "/content/1/type", "op": "changed", "before": "tool_use", "after": "text"},
        {"path": "/content/1/id", "op": "removed", "before": "t1"},
        {"path": "/content/1/name", "op": "removed", "before": "Bash"},
        {"path": "/content/1/input", "op": "removed", "before": {"command": "rm -rf /"}},
        {"path": "/content/1/text", "op": "added", "after": "**Blocked**"},
    ]


def test_a_changed_leaf_is_named_by_its_full_path() -> None:
    before = {"content": [{"input": {"command": "ls"}}]}
    after = {"content": [{"input": {"command": "ls -la"}}]}

    assert diff(before, after) == [
        {"path": "/content/0/input/command", "op": "changed", "before": "ls", "after": "ls -la"}
    ]


def test_an_inserted_array_element_is_one_addition_not_a_cascade() -> None:
    before = [{"a": 1}, {"b": 2}, {"c": 3}]
    after = [{"a": 1}, {"new": 0}, {"b": 2}, {"c": 3}]

    assert diff(before, after) == [{"path": "/1", "op": "added", "after": {"new": 0}}]


def test_a_removed_array_element_is_located_in_the_original() -> None:
    assert diff(["x", "y", "z"], ["x", "z"]) == [{"path": "/1", "op": "removed", "before": "y"}]


def test_a_change_after_an_insertion_names_its_place_in_both_versions() -> None:
    before = ["same", {"k": 1}]
    after = ["new", "same", {"k": 2}]

    assert diff(before, after) == [
        {"path": "/0", "op": "added", "after": "new"},
        {"path": "/2/k", "op": "changed", "original_path": "/1/k", "before": 1, "after": 2},
    ]


def test_true_and_one_differ() -> None:
    assert diff({"x": True}, {"x": 1}) == [{"path": "/x", "op": "changed", "before": True, "after": 1}]


def test_keys_with_slashes_and_tildes_are_escaped_as_json_pointers() -> None:
    assert diff({"a/b": 1, "c~d": 1}, {"a/b": 2, "c~d": 2}) == [
        {"path": "/a~1b", "op": "changed", "before": 1, "after": 2},
        {"path": "/c~0d", "op": "changed", "before": 1, "after": 2},
    ]


def test_a_different_root_is_one_change_at_the_root() -> None:
    assert diff("error text", {"ok": True}) == [
        {"path": "", "op": "changed", "before": "error text", "after": {"ok": True}}
    ]


@given(JSON)
def test_a_value_never_differs_from_itself(value: Any) -> None:
    assert json_diff(value, value) == []


@given(JSON, JSON)
def test_two_values_differ_exactly_when_the_diff_is_not_empty(before: Any, after: Any) -> None:
    same = orjson.dumps(before, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        after, option=orjson.OPT_SORT_KEYS
    )
    assert (json_diff(before, after) == []) == same
