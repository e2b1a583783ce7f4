r"""The constant mutator's regex edits (`mutation/constant_mutants.py`): which `\b` it leaves alone.

A `\b` between a character the pattern's text says is a word character and one it says is not is
always true, so removing it changes no match: no mutant is made for it.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _mutator() -> ModuleType:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "mutation"))
    try:
        return importlib.import_module("constant_mutants")
    finally:
        sys.path.pop(0)


MUTATOR = _mutator()


def boundary_edits(pattern: str) -> list[int]:
    r"""The positions of the `\b`s the mutator removes."""
    return [edit.start for edit in MUTATOR.regex_edits(pattern) if edit.what.startswith("\\b at")]


@pytest.mark.parametrize(
    "pattern",
    [
        r"git\s+\bpush",  # whitespace, then a letter
        r"ufw\b\s+disable",  # a letter, then whitespace
        r"-\bf",  # a literal non-word character, then a letter
        r"=\b\d+",  # then a digit
        r"\w+\b[\"']",  # one or more word characters, then a class of quotes
        r"x\b\.y",  # an escaped dot
        r"a{2}\b-",  # a bounded quantifier of at least one
    ],
)
def test_a_boundary_the_text_decides_is_not_mutated(pattern: str) -> None:
    assert "\\b" in pattern
    assert boundary_edits(pattern) == []


@pytest.mark.parametrize(
    ("pattern", "positions"),
    [
        (r"\bufw", [0]),  # nothing before it: a fragment, or the start
        (r"(?:a|b)\bc", [7]),  # a group ends before it
        (r"x\b[^;]*", [1]),  # a negated class after it
        (r"\s*\bx", [3]),  # what comes before may be empty
        (r"x\b\s?", [1]),  # what comes after may be empty
        (r"x\b[a-z.]", [1]),  # a class of both kinds
        (r"x\by", [1]),  # two word characters: always false, and removing it changes matches
        (r"x\b\S", [1]),  # \S can be either
    ],
)
def test_a_boundary_the_text_does_not_decide_is_mutated(pattern: str, positions: list[int]) -> None:
    assert boundary_edits(pattern) == positions


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        (r"git\s+\bpush", "git  push"),
        (r"\w+\b[\"']", "key'"),
        (r"a{2}\b-", "aa-"),
    ],
)
def test_an_unmutated_boundary_is_indeed_always_true(pattern: str, subject: str) -> None:
    without = pattern.replace("\\b", "")
    assert bool(re.search(pattern, subject)) == bool(re.search(without, subject))
