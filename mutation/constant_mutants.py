r"""Constant mutants: module-level literals and patterns of a module, and their mutations.

mutmut mutates inside functions only. This finds a module's module-level assignments of literals (and
class-level `ClassVar` ones): strings, regular expressions, numbers, booleans, tuples/lists/sets/
frozensets, dicts, and constructor calls made of them (a `Rule(name=..., pattern=..., reason=...)`).
Each gives mutants:

| literal                          | mutants                                                          |
|----------------------------------|------------------------------------------------------------------|
| collection (tuple, set, dict...) | each element (or key) dropped in turn                            |
| regular expression               | empty; each alternative of each alternation dropped; each        |
|                                  | quantifier changed (`*`→`+`, `+`/`?`/`{m,n}` removed); each      |
|                                  | character class negated or un-negated; each `\b` removed         |
| number                           | +1, -1 and 0                                                     |
| string                           | empty, and altered (`XX` prefixed)                               |
| boolean                          | flipped                                                          |

A `\b` is not removed where the pattern's text alone decides it: the element just before it consumes
a word character (a letter, `\w`, `\d`; `+` or `{m,n}` with m ≥ 1 allowed) and the one just after a
non-word one (`\s`, an escaped or plain punctuation character, a class of those), not optional, or
the other way round. Every match that reaches the `\b` then has a word character on one side and a
non-word one on the other, so the assertion is always true and removing it changes no match. Where
either side is a group, an alternation's edge, an optional element or the fragment's edge (a
fragment is joined to others), the mutant is made.

A string is a regular expression when it reaches `re.compile(...)` or a `pattern=` argument, directly
or through a module-level name. Strings that are elements of a collection get the drop mutant only.
A mutant is a byte range of the source and its replacement; `mutation/constants.py` runs them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

# Constructors whose string arguments are names, not values worth mutating.
_NOT_CONSTANT_CALLS = frozenset({"TypeVar", "NewType", "getLogger"})
_COLLECTION_CALLS = frozenset({"frozenset", "set", "tuple", "list", "dict"})
_STRING_PREFIX = "XX"


@dataclass(frozen=True, slots=True)
class Mutant:
    """One change to a module's source: replace the bytes in [start, end) by `replacement`."""

    key: str
    start: int
    end: int
    replacement: bytes

    def apply(self, source: bytes) -> bytes:
        """The mutated source."""
        return source[: self.start] + self.replacement + source[self.end :]


# --- finding the constants --------------------------------------------------------------------------


def _is_literal(node: ast.expr) -> bool:
    """Whether an expression is built from literals only (names and attributes allowed as elements)."""
    match node:
        case ast.Constant() | ast.Name() | ast.Attribute():
            return True
        case ast.Tuple(elts=elts) | ast.List(elts=elts) | ast.Set(elts=elts):
            return all(_is_literal(element) for element in elts)
        case ast.Dict(keys=keys, values=values):
            return all(key is not None and _is_literal(key) for key in keys) and all(
                _is_literal(value) for value in values
            )
        case ast.BinOp(left=left, right=right):
            return _is_literal(left) and _is_literal(right)
        case ast.UnaryOp(operand=operand):
            return _is_literal(operand)
        case ast.Call(func=func, args=args, keywords=keywords):
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            constructor = name in _COLLECTION_CALLS or name == "compile" or name[:1].isupper()
            return (
                constructor
                and name not in _NOT_CONSTANT_CALLS
                and all(_is_literal(arg) for arg in args)
                and all(_is_literal(keyword.value) for keyword in keywords)
            )
        case _:
            return False


def _is_classvar(annotation: ast.expr) -> bool:
    return any(
        isinstance(node, ast.Name | ast.Attribute)
        and (node.id if isinstance(node, ast.Name) else node.attr) == "ClassVar"
        for node in ast.walk(annotation)
    )


def constant_sites(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) of each module-level or `ClassVar` assignment of a literal."""
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                yield from _site(target.id, statement.value)
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if statement.value is not None:
                yield from _site(statement.target.id, statement.value)
        elif isinstance(statement, ast.ClassDef):
            for member in statement.body:
                if (
                    isinstance(member, ast.AnnAssign)
                    and isinstance(member.target, ast.Name)
                    and member.value is not None
                    and _is_classvar(member.annotation)
                ):
                    yield from _site(f"{statement.name}.{member.target.id}", member.value)


def _site(name: str, value: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    if not (name.startswith("__") and name.endswith("__")) and _is_literal(value):
        yield name, value


def regex_constants(tree: ast.Module) -> set[int]:
    """The `id()` of every string constant used as a regular expression (see the module docstring)."""
    roots: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "compile" and node.args:
                roots.append(node.args[0])
            roots.extend(keyword.value for keyword in node.keywords if keyword.arg == "pattern")
    values = {name: value for name, value in constant_sites(tree)}
    found: set[int] = set()
    seen_names: set[str] = set()
    while roots:
        root = roots.pop()
        for node in ast.walk(root):
            if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                found.add(id(node))
            elif isinstance(node, ast.Name) and node.id in values and node.id not in seen_names:
                seen_names.add(node.id)
                roots.append(values[node.id])
    return found


# --- generating mutants -----------------------------------------------------------------------------


class _Source:
    """Byte offsets of AST nodes in one source file."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self._line_starts = [0]
        for line in source.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))

    def span(self, node: ast.expr) -> tuple[int, int]:
        assert node.end_lineno is not None
        assert node.end_col_offset is not None
        start = self._line_starts[node.lineno - 1] + node.col_offset
        return start, self._line_starts[node.end_lineno - 1] + node.end_col_offset


def module_mutants(source: bytes) -> list[Mutant]:
    """Every constant mutant of one module, in source order, with unique keys."""
    tree = ast.parse(source)
    regexes = regex_constants(tree)
    located = _Source(source)
    mutants: list[Mutant] = []
    for name, value in constant_sites(tree):
        mutants.extend(_expression_mutants(name, value, located, regexes))
    keys = [mutant.key for mutant in mutants]
    duplicates = {key for key in keys if keys.count(key) > 1}
    assert not duplicates, f"duplicate mutant keys: {sorted(duplicates)}"
    return mutants


def _replace(key: str, node: ast.expr, located: _Source, text: str) -> Mutant:
    start, end = located.span(node)
    return Mutant(key, start, end, text.encode("utf-8"))


def _expression_mutants(label: str, node: ast.expr, located: _Source, regexes: set[int]) -> Iterator[Mutant]:
    match node:
        case ast.Constant(value=bool() as flag):
            yield _replace(f"{label}: {flag} -> {not flag}", node, located, repr(not flag))
        case ast.Constant(value=int() | float() as number):
            for changed in dict.fromkeys((number + 1, number - 1, type(number)(0))):
                if changed != number:
                    yield _replace(f"{label}: {number!r} -> {changed!r}", node, located, repr(changed))
        case ast.Constant(value=str() | bytes() as text):
            if id(node) in regexes:
                yield from _regex_mutants(label, node, text, located)
            else:
                yield _replace(f"{label}: empty", node, located, repr(text[:0]))
                altered = (
                    (_STRING_PREFIX.encode() + text) if isinstance(text, bytes) else _STRING_PREFIX + text
                )
                yield _replace(f"{label}: altered", node, located, repr(altered))
        case ast.Tuple(elts=elements) | ast.List(elts=elements) | ast.Set(elts=elements):
            for index, element in enumerate(elements):
                kept = [other for position, other in enumerate(elements) if position != index]
                smaller = (
                    type(node)(elts=kept, ctx=ast.Load()) if not isinstance(node, ast.Set) else ast.Set(kept)
                )
                shown = ast.unparse(element)
                yield _replace(f"{label}: drop {_short(shown)}", node, located, _unparse_collection(smaller))
            for index, element in enumerate(elements):
                if not isinstance(element, ast.Constant) or id(element) in regexes:
                    yield from _expression_mutants(f"{label}[{index}]", element, located, regexes)
        case ast.Dict(keys=keys, values=values):
            for index, key in enumerate(keys):
                assert key is not None
                smaller_dict = ast.Dict(
                    keys=[k for position, k in enumerate(keys) if position != index],
                    values=[v for position, v in enumerate(values) if position != index],
                )
                shown = ast.unparse(key)
                yield _replace(f"{label}: drop key {_short(shown)}", node, located, ast.unparse(smaller_dict))
            for key, item in zip(keys, values, strict=True):
                assert key is not None
                yield from _expression_mutants(f"{label}[{ast.unparse(key)}]", item, located, regexes)
        case ast.Call(args=args, keywords=keywords):
            for index, arg in enumerate(args):
                yield from _expression_mutants(f"{label}({index})", arg, located, regexes)
            for keyword in keywords:
                yield from _expression_mutants(f"{label}.{keyword.arg}", keyword.value, located, regexes)
        case ast.BinOp():
            # A pattern joined from several strings: each string is labelled by its place in the join.
            leaves = _joined(node)
            pieces = sum(
                isinstance(leaf, ast.Constant) and isinstance(leaf.value, str | bytes) for leaf in leaves
            )
            for index, leaf in enumerate(leaves):
                piece = f"{label} +{index}" if pieces > 1 else label
                yield from _expression_mutants(piece, leaf, located, regexes)
        case _:
            return


def _joined(node: ast.expr) -> list[ast.expr]:
    """The operands of a chain of binary operations (`a + b + c`), left to right."""
    if isinstance(node, ast.BinOp):
        return [*_joined(node.left), *_joined(node.right)]
    return [node]


def _unparse_collection(node: ast.expr) -> str:
    if isinstance(node, ast.Set) and not node.elts:
        return "set()"
    return ast.unparse(node)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- regular expressions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RegexEdit:
    what: str
    start: int
    end: int
    replacement: str


_BOUNDED = re.compile(r"\{\d*(,\d*)?\}")


def regex_edits(pattern: str) -> list[_RegexEdit]:
    """The structural mutations of one pattern (positions are character offsets in the pattern).

    The pattern may be a fragment of a larger one, joined with `+` (`r"(?:" + _SECRET + r")"`): a `)`
    that closes a group opened in another fragment ends the alternation before it, and a group left
    open has its alternatives up to the fragment's end.
    """
    edits: list[_RegexEdit] = []
    # Each open alternation: where its content starts and the positions of its `|`.
    stack: list[tuple[int, list[int]]] = [(0, [])]
    # Whether the last character any match consumed before this point is a word character (None: not
    # known from the pattern's text alone).
    last: bool | None = None
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            if pattern[position + 1 : position + 2] == "b":
                following = _next_atom_is_word(pattern, position + 2)
                if last is None or following is None or last == following:
                    edits.append(_RegexEdit(f"\\b at {position} removed", position, position + 2, ""))
            else:
                last = _escape_is_word(pattern[position + 1 : position + 2])
            position += 2
            continue
        last = _after(last, pattern, position)
        if char == "[":
            end = _class_end(pattern, position)
            negated = pattern[position + 1 : position + 2] == "^"
            body = pattern[position + 2 if negated else position + 1 : end - 1]
            flipped = f"[{body}]" if negated else f"[^{body}]"
            edits.append(
                _RegexEdit(
                    f"class at {position} {'un-negated' if negated else 'negated'}", position, end, flipped
                )
            )
            position = end
            continue
        if char == "(":
            content = position + 1
            if pattern[content : content + 1] == "?":
                marker = re.match(r"\?(?:P<\w+>|<[=!]|[:=!])", pattern[content:])
                content += marker.end() if marker else 1
            stack.append((content, []))
            position = content
            continue
        if char == ")":
            if len(stack) == 1:  # closes a group of another fragment: what came before was in it
                stack[0] = (position + 1, [])
            else:
                content, bars = stack.pop()
                edits.extend(_alternative_drops(pattern, content, position, bars))
        elif char == "|":
            stack[-1][1].append(position)
        elif char in "*+?":
            end = position + 1 + (pattern[position + 1 : position + 2] == "?")
            replacement = "+" if char == "*" else ""
            edits.append(
                _RegexEdit(
                    f"quantifier {char!r} at {position} -> {replacement!r}", position, end, replacement
                )
            )
            position = end
            continue
        elif char == "{" and (bounded := _BOUNDED.match(pattern, position)):
            edits.append(
                _RegexEdit(
                    f"quantifier {bounded.group()!r} at {position} removed", position, bounded.end(), ""
                )
            )
            position = bounded.end()
            continue
        position += 1
    while stack:
        content, bars = stack.pop()
        edits.extend(_alternative_drops(pattern, content, len(pattern), bars))
    return edits


def _char_is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _escape_is_word(letter: str) -> bool | None:
    r"""Whether the escape `\<letter>` matches a word character (True), a non-word one (False), or either.

    Either, or none (None): `\S`, `\W`, `\b`, `\A`, a back-reference...
    """
    if letter in ("w", "d"):
        return True
    if letter in ("s", "n", "t", "r", "f", "v"):
        return False
    if letter and not _char_is_word(letter):
        return False  # an escaped literal: `\\.`, `\\(`, `\\$`
    return None


def _class_is_word(body: str) -> bool | None:
    """Whether every character of a (not negated) class body is a word character, or none is."""
    kinds: set[bool | None] = set()
    position = 0
    while position < len(body):
        if body[position] == "\\":
            kinds.add(_escape_is_word(body[position + 1 : position + 2]))
            position += 2
        else:
            # A range (`a-z`) counts as its ends and its `-`, which are not of one kind: unknown.
            kinds.add(_char_is_word(body[position]))
            position += 1
    return kinds.pop() if len(kinds) == 1 else None


def _atom_is_word(pattern: str, position: int) -> tuple[bool | None, int]:
    """Whether the atom at `position` consumes a word character, and where it ends."""
    char = pattern[position : position + 1]
    if char == "\\":
        return _escape_is_word(pattern[position + 1 : position + 2]), position + 2
    if char == "[":
        end = _class_end(pattern, position)
        negated = pattern[position + 1 : position + 2] == "^"
        return (None if negated else _class_is_word(pattern[position + 1 : end - 1])), end
    if not char or char in "()|^$.*+?{":
        return None, position + 1
    return _char_is_word(char), position + 1


def _next_atom_is_word(pattern: str, position: int) -> bool | None:
    """Whether the first character matched from `position` on is a word character, if the text says.

    It does when the atom there is a character, an escape or a class, and is not optional.
    """
    kind, end = _atom_is_word(pattern, position)
    after = pattern[end : end + 1]
    bounded = _BOUNDED.match(pattern, end)
    if after in ("*", "?") or (bounded and bounded.group()[1:2] in ("0", ",", "}")):
        return None
    return kind


def _after(last: bool | None, pattern: str, position: int) -> bool | None:
    """What `last` (see `regex_edits`) becomes after the element at `position`, not an escape."""
    char = pattern[position]
    if char == "+":
        return last  # one or more: the last one consumed is still of the atom's kind
    if char == "{" and (bounded := _BOUNDED.match(pattern, position)):
        return last if bounded.group()[1:2] not in ("0", ",", "}") else None
    if char == "[":
        return _atom_is_word(pattern, position)[0]
    if char in "()|^$.*?":
        return None
    return _char_is_word(char)


def _class_end(pattern: str, start: int) -> int:
    """The position just after the character class that opens at `start`."""
    position = start + 1
    if pattern[position : position + 1] == "^":
        position += 1
    if pattern[position : position + 1] == "]":
        position += 1
    while position < len(pattern) and pattern[position] != "]":
        position += 2 if pattern[position] == "\\" else 1
    return min(position + 1, len(pattern))


def _alternative_drops(pattern: str, content: int, end: int, bars: list[int]) -> Iterator[_RegexEdit]:
    if not bars:
        return
    starts = [content, *(bar + 1 for bar in bars)]
    ends = [*bars, end]
    for number, (start, stop) in enumerate(zip(starts, ends, strict=True)):
        # Drop the alternative with one neighbouring `|`.
        cut = (start, stop + 1) if number == 0 else (start - 1, stop)
        what = f"alternative {_short(repr(pattern[start:stop]), 30)} at {start} dropped"
        yield _RegexEdit(what, cut[0], cut[1], "")


def _regex_mutants(
    label: str, node: ast.Constant, pattern: str | bytes, located: _Source
) -> Iterator[Mutant]:
    text = pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern

    def literal(value: str) -> str:
        return repr(value.encode("latin-1")) if isinstance(pattern, bytes) else repr(value)

    # A fragment of a larger pattern need not compile alone; a whole pattern must keep compiling.
    whole = _compiles(text)
    yield _replace(f"{label}: empty pattern", node, located, literal(""))
    for edit in regex_edits(text):
        mutated = text[: edit.start] + edit.replacement + text[edit.end :]
        if whole and not _compiles(mutated):
            continue  # not a pattern any more: not a meaningful mutant
        yield _replace(f"{label}: {edit.what}", node, located, literal(mutated))


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True
