"""Compile a statement once per shape: peewee's compiling costs more than running it.

peewee takes ~0.17 ms to compile a statement that names all of Channel's
columns, several times what SQLite takes to run it, and every poll runs two
or three such statements. The SQL text of a shape never changes; only its
parameters do, so the text is cached per shape and kind of database. So is
how a raw query's columns map onto a model's fields (`model_rows`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from peewee import ModelObjectCursorWrapper, Query

from .models import db

_SQL: dict[tuple[str, str, Hashable], str] = {}
_ROWS: dict[tuple[type, str], ModelObjectCursorWrapper] = {}


def compiled(shape: Hashable, build: Callable[[], Query], params: list) -> str:
    """Return the SQL of `build()`, compiled once per shape and kind of database.

    Args:
        shape: names the statement; equal shapes must compile to equal SQL.
        build: makes the statement with this call's values.
        params: the values the caller passes with the SQL, in order. The
            first compile checks peewee expects exactly these.
    """
    key = (type(db.obj).__name__, db.param, shape)
    sql = _SQL.get(key)
    if sql is None:
        sql, expected = build().sql()
        if list(expected) != list(params):
            raise RuntimeError(f"{shape!r}: peewee expects {expected}, the caller passes {params}")
        _SQL[key] = sql
    return sql


def model_rows(model: type, sql: str, params: list) -> list[Any]:
    """Run `sql`; return its rows as `model` instances, as ``model.raw(sql, *params)`` does.

    peewee matches a raw query's columns to the model's fields again on every
    run, which took half the CPU of loading a channel to poll (32 columns).
    The match depends only on the SQL text, so it is made once per text and
    reused (peewee's own row wrapper, initialised once, then fed rows).
    """
    cursor = db.execute_sql(sql, params)
    rows = cursor.fetchall()
    plan = _ROWS.get((model, sql))
    if plan is None:
        plan = ModelObjectCursorWrapper(cursor, model, [], model)
        plan.initialize()  # reads cursor.description only
        plan.cursor = None  # keeps no connection's cursor alive
        _ROWS[(model, sql)] = plan
    return [plan.process_row(row) for row in rows]
