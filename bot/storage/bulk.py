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
    Integer,
    String,
    Table,
    bindparam,
    cast,
    func,
    insert,
    literal,
    type_coerce,
)
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine


def json_rows(dialect: str, types: Sequence[TypeEngine[Any]]) -> tuple[Any, list[Any]]:
    """A FROM of one row per element of the JSON array bound as `rows`, and its columns.

    Each element is an array of values, one per entry of `types`; the columns come out as those
    types. Join it like a table: it is how a statement takes thousands of rows in one parameter.
    """
    doc = bindparam("rows", type_=String)
    if dialect == "postgresql":
        # jsonb: parsed once, where each -> on plain json would parse the element again.
        element = func.jsonb_array_elements(cast(doc, JSONB)).table_valued("value")
        value = element.c.value
        columns: list[Any] = []
        for i, column_type in enumerate(types):
            if isinstance(column_type, JSON):
                columns.append(cast(value.op("->")(literal(i)), column_type))
            elif isinstance(column_type, String):
                columns.append(value.op("->>")(literal(i)))
            else:
                columns.append(cast(value.op("->>")(literal(i)), column_type))
        return element, columns
    element = func.json_each(doc).table_valued("value")
    # SQLite's json_extract gives integers, text, 0/1 for booleans and the JSON text of an
    # object or array: each what the column stores.
    return element, [
        type_coerce(func.json_extract(element.c.value, f"$[{i}]"), column_type)
        for i, column_type in enumerate(types)
    ]


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
    source, columns = json_rows(dialect, [table.c[name].type for name in names])
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
