"""`BulkInsert`: many rows of one table in as few statements as each database allows, as SQL text.

The writer inserts a batch of records at once: a `transactions` row each, and rows of `bodies`,
`events` and `shadows`. Through SQLAlchemy Core (`conn.execute(insert(table), rows)`), every row's
parameters are compiled and converted one by one in Python, and SQLite parsed the `VALUES` list of
each new batch length again: together about a quarter of what recording cost a call (bench/instructions.py,
docs/performance.md). Here the rows go to the driver as they are:

- PostgreSQL: one statement per batch, `INSERT ... SELECT * FROM unnest($1::type[], ...)`, one array
  per column (asyncpg encodes arrays in C, and the statement text does not depend on the row count, so
  it is prepared once).
- SQLite: `executemany` of a one-row `INSERT` (the sqlite3 module loops in C); a statement that returns
  rows (`RETURNING`, which `executemany` cannot) lists many rows in its `VALUES`, as many as SQLite's
  parameter limit allows.

Rows are mappings from column name to value; values must already be of the column's Python type
(no SQLAlchemy type processing happens: booleans as `bool`, binary data as `bytes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Row, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

MIN_COLUMNS = 2
"""`itemgetter` of one name returns a bare value, not a one-item tuple: no table here has one column."""
SQLITE_MAX_PARAMETERS = 999
"""Bound parameters per SQLite statement: the lowest limit of any SQLite build (3.32 raised it)."""


class BulkInsert:
    """The insert of many rows into one table, optionally skipping conflicts and returning columns."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        skip_conflicts_on: str | None = None,
        returning: Sequence[str] = (),
    ) -> None:
        """Describe the insert.

        Args:
            table: the table.
            columns: the columns each row gives, in the order they are sent (at least two).
            skip_conflicts_on: a unique column; a row that would duplicate its value is not inserted
                (and returns nothing).
            returning: columns returned for each inserted row.

        Raises:
            ValueError: fewer than two columns.
        """
        if len(columns) < MIN_COLUMNS:
            raise ValueError(f"a bulk insert into {table.name} needs at least {MIN_COLUMNS} columns")
        self._table = table
        self._columns = tuple(columns)
        self._skip_conflicts_on = skip_conflicts_on
        self._returning = tuple(returning)
        # Rows as tuples in column order, built in C.
        self._values: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*self._columns)
        self._statements: dict[tuple[str, int], str] = {}

    async def run(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> list[Row[Any]]:
        """Insert `rows` in `conn`'s transaction; returns the `returning` columns of the inserted rows."""
        if not rows:
            return []
        values: list[tuple[Any, ...]] = [self._values(row) for row in rows]
        if conn.dialect.name == "postgresql":
            arrays = tuple(list(column) for column in zip(*values, strict=True))
            result = await conn.exec_driver_sql(self._statement(conn.dialect, 0), arrays)
            return list(result) if self._returning else []
        if not self._returning:
            await conn.exec_driver_sql(self._statement(conn.dialect, 1), values)
            return []
        returned: list[Row[Any]] = []
        per_statement = max(1, SQLITE_MAX_PARAMETERS // len(self._columns))
        for start in range(0, len(values), per_statement):
            page = values[start : start + per_statement]
            flat = tuple(chain.from_iterable(page))
            returned.extend(await conn.exec_driver_sql(self._statement(conn.dialect, len(page)), flat))
        return returned

    def _statement(self, dialect: Dialect, rows: int) -> str:
        """The SQL text for `dialect`: PostgreSQL's (`rows` 0) or SQLite's with `rows` rows of values."""
        key = (dialect.name, rows)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = self._render(dialect, rows)
        return statement

    def _render(self, dialect: Dialect, rows: int) -> str:
        quote = dialect.identifier_preparer.quote
        table = dialect.identifier_preparer.format_table(self._table)
        names = ", ".join(quote(name) for name in self._columns)
        if dialect.name == "postgresql":
            arrays = ", ".join(
                f"${position}::{self._table.c[name].type.compile(dialect=dialect)}[]"
                for position, name in enumerate(self._columns, start=1)
            )
            source = f"SELECT * FROM unnest({arrays})"
        else:
            row = "(" + ", ".join("?" * len(self._columns)) + ")"
            source = "VALUES " + ", ".join([row] * rows)
        statement = f"INSERT INTO {table} ({names}) {source}"
        if self._skip_conflicts_on is not None:
            statement += f" ON CONFLICT ({quote(self._skip_conflicts_on)}) DO NOTHING"
        if self._returning:
            statement += " RETURNING " + ", ".join(quote(name) for name in self._returning)
        return statement
