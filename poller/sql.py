"""Compile a statement once per shape: peewee's compiling costs more than running it.

peewee takes ~0.17 ms to compile a statement that names all of Channel's
columns, several times what SQLite takes to run it, and every poll runs two
or three such statements. The SQL text of a shape never changes; only its
parameters do, so the text is cached per shape and kind of database.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from peewee import Query

from .models import db

_SQL: dict[tuple[str, str, Hashable], str] = {}


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
