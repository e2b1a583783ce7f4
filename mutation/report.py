"""The per-module mutation score table: mutmut's results (functions) and the constant mutants' results.

Reads `mutants/<module>.meta` (written by `mutmut run`) and `mutants/constants.json` (written by
`mutation/constants.py`) for each module of `[tool.mutmut] only_mutate`, and `mutation/equivalent.toml`:
the surviving mutants that are equivalent (no test can tell them from the original), each with its
reason. A module's score is killed / (mutants - equivalent ones). Prints the table (`--markdown` for
docs/testing.md) and every survivor that is not listed as equivalent; exits 1 when a module is under
the target or has not been run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.toml"
TARGET = 0.95
PRESCREEN = MUTANTS / "prescreen.json"
"""`mutation/prescreen.py --json`'s verdicts on `block_commands`' constants: used for that module when
`mutation/constants.py` has not run on it (its 1,300-odd pattern mutants take hours one pytest at a
time), and marked `(pre-screen)` in the table."""
PRESCREEN_MODULE = "src/luthien/policies/block_commands.py"
# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code): a failing run, pytest's internal
# error and a timeout all mean the tests noticed the mutant.
_KILLED_CODES = frozenset({1, 3, 24, -24, 36, 152, 255})
_SURVIVED_CODE = 0
# No test covers the mutant's function: it survives by definition.
_NO_TESTS_CODES = frozenset({5, 33})


@dataclass
class Tally:
    """The mutants of one kind (functions or constants) of one module."""

    killed: int = 0
    equivalent: list[str] = field(default_factory=lambda: [])
    survived: list[str] = field(default_factory=lambda: [])
    unchecked: list[str] = field(default_factory=lambda: [])

    @property
    def total(self) -> int:
        """Every mutant, whatever its outcome."""
        return self.killed + len(self.equivalent) + len(self.survived) + len(self.unchecked)

    @property
    def score(self) -> float | None:
        """Killed over the mutants that are not equivalent (None when there is none)."""
        counted = self.total - len(self.equivalent)
        return self.killed / counted if counted else None

    def add(self, other: Tally) -> Tally:
        """The two tallies together."""
        return Tally(
            self.killed + other.killed,
            self.equivalent + other.equivalent,
            self.survived + other.survived,
            self.unchecked + other.unchecked,
        )


def modules() -> list[str]:
    """The modules under mutation testing."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def function_tally(module: str, equivalent: Mapping[str, str]) -> Tally | None:
    """The mutmut results of one module, or None when mutmut has not run on it."""
    meta = MUTANTS / f"{module}.meta"
    if not meta.exists():
        return None
    codes = cast(dict[str, int | None], json.loads(meta.read_text())["exit_code_by_key"])
    tally = Tally()
    for name, code in sorted(codes.items()):
        if code in _KILLED_CODES:
            tally.killed += 1
        elif code == _SURVIVED_CODE:
            (tally.equivalent if name in equivalent else tally.survived).append(name)
        elif code in _NO_TESTS_CODES:
            tally.survived.append(f"{name} (no test covers it)")
        else:
            tally.unchecked.append(name)
    return tally


def constant_tally(results: Mapping[str, Any], module: str, equivalent: Mapping[str, str]) -> Tally | None:
    """The constant mutants' results for one module, or None when they have not run on it."""
    outcome = cast(dict[str, list[str]] | None, results.get(module))
    if outcome is None:
        return None
    tally = Tally(killed=len(outcome["killed"]))
    for key in outcome["survived"]:
        (tally.equivalent if key in equivalent else tally.survived).append(key)
    return tally


def _percent(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.1%}"


def _cell(tally: Tally | None) -> str:
    if tally is None:
        return "not run"
    equivalent = f" ({len(tally.equivalent)} equivalent)" if tally.equivalent else ""
    return f"{tally.killed}/{tally.total}{equivalent} {_percent(tally.score)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; 1 when a module is under the target or was not run."""
    parser = argparse.ArgumentParser(description="Mutation score per module.")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    options = parser.parse_args(argv)
    equivalent = tomllib.loads(EQUIVALENT.read_text("utf-8"))
    equivalent_functions = cast(dict[str, str], equivalent.get("functions", {}))
    equivalent_constants = cast(dict[str, dict[str, str]], equivalent.get("constants", {}))
    constants_path = MUTANTS / "constants.json"
    constant_results = cast(
        dict[str, Any], json.loads(constants_path.read_text()) if constants_path.exists() else {}
    )
    prescreened = PRESCREEN_MODULE not in constant_results and PRESCREEN.exists()
    if prescreened:
        constant_results[PRESCREEN_MODULE] = json.loads(PRESCREEN.read_text())

    rows: list[tuple[str, str, str, str]] = []
    failing: list[str] = []
    survivors: list[str] = []
    unchecked: list[str] = []
    for module in modules():
        functions = function_tally(module, equivalent_functions)
        constants = constant_tally(constant_results, module, equivalent_constants.get(module, {}))
        both = (functions or Tally()).add(constants or Tally())
        constants_cell = _cell(constants)
        if prescreened and module == PRESCREEN_MODULE:
            constants_cell += " (pre-screen)"
        rows.append(
            (module.removeprefix("src/luthien/"), _cell(functions), constants_cell, _percent(both.score))
        )
        if functions is None or constants is None or both.score is None or both.score < TARGET:
            failing.append(module)
        survivors.extend(f"{module}: {name}" for name in both.survived)
        if both.unchecked:
            unchecked.append(f"{module}: {len(both.unchecked)}")

    header = ("module", "functions (mutmut)", "constants", "score")
    if options.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            print("| " + " | ".join(f"`{row[0]}`" if i == 0 else cell for i, cell in enumerate(row)) + " |")
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if survivors:
        print("\nSurvivors not listed in mutation/equivalent.toml:")
        print("\n".join(f"  {line}" for line in survivors))
    if unchecked:
        print(f"\nNot checked (an interrupted run, or a mutmut error): {', '.join(unchecked)}")
    if failing:
        print(f"\nUnder {TARGET:.0%} or not run: {', '.join(failing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
