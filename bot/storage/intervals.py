"""The hours between two stored timestamps, worked out by the database on SQLite and PostgreSQL.

Reading thousands of timestamps only to subtract them costs a type conversion per value in
Python (`models.UtcDateTime`); the database subtracts them in C and returns one float:
`julianday` on SQLite (whose timestamps are text), `EXTRACT(EPOCH …)` on PostgreSQL (cast, as it
is numeric there since version 14).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class hours_between(FunctionElement[float]):
    """``hours_between(later, earlier)``: NULL when either is NULL."""

    type = Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between, "sqlite")
def _sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 24.0)"


@compiles(hours_between, "postgresql")
def _postgresql(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION) / 3600.0)"
