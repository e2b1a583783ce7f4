"""A fast pre-screen of `block_commands`' constant mutants: each mutated module is run in this process.

`mutation/constants.py` starts pytest once per mutant, which for `block_commands`' 1,300-odd pattern
mutants takes hours on a shared machine. This executes each mutated module in a fresh namespace and
compares, for every literal command of the block_commands tests (`REFUSED`, `LET_THROUGH`,
`REFUSED_BY_EACH_PART`, `LET_THROUGH_AT_EACH_EDGE`, `SPACING_VARIANTS` of
`tests/unit/test_block_commands_rules.py` and the corpus `tests/data/commands_corpus.jsonl`), the first
matching rule with the original's: a mutant that changes one decision fails one of those tests. A
mutant that changes a tool name, a command key, a rule's name or reason, or what the policy holds is
killed by the literal tests of `tests/unit/test_block_commands.py`; one whose module no longer loads
(a pattern that does not compile) fails at import. Usage:

    nice -n 19 python mutation/prescreen.py [--survivors] [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from constant_mutants import module_mutants

ROOT = Path(__file__).resolve().parent.parent
MODULE = "src/luthien/policies/block_commands.py"
RULES_TESTS = ROOT / "tests" / "unit" / "test_block_commands_rules.py"
CORPUS = ROOT / "tests" / "data" / "commands_corpus.jsonl"
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"
# The literal command lists of the rules' tests: (command, rule) pairs or bare look-alike commands.
COMMAND_LISTS = (
    "REFUSED",
    "LET_THROUGH",
    "REFUSED_BY_EACH_PART",
    "LET_THROUGH_AT_EACH_EDGE",
    "SPACING_VARIANTS",
    "LET_THROUGH_AT_WORD_EDGES",
    "REFUSED_AT_WORD_EDGES",
)


def test_commands() -> list[str]:
    """Every literal command of the block_commands tests' lists and of the corpus."""
    tree = ast.parse(RULES_TESTS.read_text("utf-8"))
    commands: list[str] = []
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(node, ast.Assign) and isinstance(target, ast.Name) and target.id in COMMAND_LISTS:
            items: list[str | tuple[str, str]] = ast.literal_eval(node.value)
            commands.extend(item[0] if isinstance(item, tuple) else item for item in items)
    with CORPUS.open(encoding="utf-8") as corpus:
        commands.extend(json.loads(line)["command"] for line in corpus if line.strip())
    return commands


def _load(source: bytes) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "luthien.policies._block_commands_mutant"}
    exec(compile(source, MODULE, "exec"), namespace)  # the module's own source, mutated
    return namespace


def _shape(namespace: dict[str, Any]) -> tuple[Any, ...]:
    """Everything but the patterns: tool names, command keys, rule names and reasons, held kinds."""
    rules = tuple((rule.name, rule.reason) for rule in namespace["DEFAULT_RULES"])
    policy = namespace["BlockCommandsPolicy"]
    return (namespace["DEFAULT_TOOL_NAMES"], namespace["COMMAND_KEYS"], rules, policy.holds)


def _verdicts(namespace: dict[str, Any], commands: Sequence[str]) -> list[str | None]:
    compiled = [(re.compile(rule.pattern), rule.name) for rule in namespace["DEFAULT_RULES"]]
    return [
        next((name for pattern, name in compiled if pattern.search(command)), None) for command in commands
    ]


def screen() -> tuple[list[str], list[str]]:
    """The keys of the killed and the surviving mutants."""
    source = (ROOT / MODULE).read_bytes()
    commands = test_commands()
    original = _load(source)
    shape, verdicts = _shape(original), _verdicts(original, commands)
    killed: list[str] = []
    survived: list[str] = []
    for mutant in module_mutants(source):
        try:
            mutated = _load(mutant.apply(source))
        except Exception:  # a pattern that no longer compiles: the module fails at import
            killed.append(mutant.key)
            continue
        same = _shape(mutated) == shape and _verdicts(mutated, commands) == verdicts
        (survived if same else killed).append(mutant.key)
    return killed, survived


def main(argv: Sequence[str] | None = None) -> int:
    """Print the pre-screen's tally (and with `--survivors`, the survivors not listed as equivalent)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--survivors", action="store_true", help="list the unexplained survivors")
    parser.add_argument("--json", type=Path, help="write {killed, survived} here")
    options = parser.parse_args(argv)
    killed, survived = screen()
    equivalent = tomllib.loads(EQUIVALENT.read_text("utf-8")).get("constants", {}).get(MODULE, {})
    unexplained = [key for key in survived if key not in equivalent]
    stale = sorted(set(equivalent) - set(survived))
    counted = len(killed) + len(unexplained)
    score = 100 * len(killed) / counted if counted else 100.0
    print(
        f"{MODULE}: {len(killed) + len(survived)} mutants, {len(killed)} killed, "
        f"{len(survived) - len(unexplained)} equivalent, {len(unexplained)} surviving: {score:.1f}%"
    )
    if stale:
        print(f"listed as equivalent but killed or gone: {stale}")
    if options.survivors:
        for key in unexplained:
            print(f"  SURVIVED: {key}")
    if options.json:
        options.json.write_text(json.dumps({"killed": killed, "survived": survived}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
