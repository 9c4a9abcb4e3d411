"""Thousands of rows in one statement, on SQLite and PostgreSQL alike.

An executemany hands every row to SQLAlchemy and the driver one at a time: bind processors and
type adaptation in Python per value, and on PostgreSQL one protocol message per row. For bulk
writes such as the deadline sweep's, the rows here travel instead as one JSON document that the
database expands itself — `json_each` on SQLite, `json_array_elements` on PostgreSQL — inside a
single INSERT … SELECT: one parameter, one statement, the parsing done in C.

What a JSON document carries unambiguously is what may go in a row: integers, strings, booleans,
None, and objects or arrays for JSON columns. Anything else (timestamps) goes in `constants`,
bound once, with the column's own type, for every row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Integer,
    String,
    Table,
    bindparam,
    cast,
    func,
    insert,
    literal,
)
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession


def _expanded(dialect: str, table: Table, names: Sequence[str]) -> tuple[Any, list[Any]]:
    """The FROM of one row per array element, and an expression per named column."""
    doc = bindparam("rows", type_=String)
    if dialect == "postgresql":
        element = func.json_array_elements(cast(doc, JSON)).table_valued("value")
        value = element.c.value
        columns: list[Any] = []
        for i, name in enumerate(names):
            column_type = table.c[name].type
            if isinstance(column_type, JSON):
                columns.append(value.op("->")(literal(i)))
            else:
                as_text = value.op("->>")(literal(i))
                target = Boolean() if isinstance(column_type, Boolean) else column_type
                columns.append(cast(as_text, target) if not isinstance(target, String) else as_text)
        return element, columns
    element = func.json_each(doc).table_valued("value")
    # SQLite's json_extract gives integers, text, 0/1 for booleans and the JSON text of an
    # object or array: each what the column stores.
    return element, [func.json_extract(element.c.value, f"$[{i}]") for i in range(len(names))]


async def insert_many(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    constants: Mapping[str, Any] | None = None,
) -> int:
    """INSERT every row (all with the same keys) plus `constants`; returns the rows inserted."""
    if not rows:
        return 0
    constants = constants or {}
    names = list(rows[0])
    for name in names:
        if isinstance(table.c[name].type, JSON) and not isinstance(rows[0][name], dict | list):
            # A JSON scalar would come back from SQLite's json_extract unquoted.
            raise TypeError(f"{table.name}.{name}: bulk JSON values must be objects or arrays")
    document = json.dumps([[row[name] for name in names] for row in rows], ensure_ascii=False)
    dialect = session.get_bind().dialect.name
    source, columns = _expanded(dialect, table, names)
    fixed = [literal(value, type_=table.c[name].type) for name, value in constants.items()]
    query = sql_select(*columns, *fixed).select_from(source)
    statement = insert(table).from_select([*names, *constants], query)
    connection = await session.connection()
    result = await connection.execute(statement, {"rows": document})
    return int(result.rowcount or 0)


def among(column: Any, ids: Sequence[int], dialect: str) -> Any:
    """`column IN ids` with the ids as one parameter, however many there are.

    An expanding IN binds one parameter per id (5,000 in a sweep batch), each processed by
    SQLAlchemy and the driver; an array (PostgreSQL) or a JSON list (SQLite) is one value.
    """
    if dialect == "postgresql":
        return column == func.any(bindparam(None, list(ids), type_=ARRAY(Integer)))
    listed = func.json_each(bindparam(None, json.dumps(list(ids)), type_=String)).table_valued(
        "value"
    )
    return column.in_(sql_select(listed.c.value))
