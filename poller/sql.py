"""Compile a statement once per shape: peewee's compiling costs more than running it.

peewee takes ~0.17 ms to compile a statement that names all of Channel's
columns, several times what SQLite takes to run it, and every poll runs two
or three such statements. The SQL text of a shape never changes; only its
parameters do, so the text is cached per shape and kind of database. So is
how a raw query's columns map onto a model's fields (`model_rows`).

On PostgreSQL a cached shape is also prepared on the server, once per
connection (`PREPARE`, then `EXECUTE name(…)`): planning took most of the
server's CPU for these short statements (the poll's channel read: 0.11 ms
planning, 0.02 ms executing). A database opened with ``prepare=false`` in its
URL (a pooler such as PgBouncer in transaction mode, where a session's
prepared statements do not follow it) sends the plain SQL.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from peewee import DataError, ModelObjectCursorWrapper, NotSupportedError, ProgrammingError, Query

from .models import db

log = logging.getLogger(__name__)

Key = tuple[str, str, Hashable]
_SQL: dict[Key, str] = {}
_NAMES: dict[Key, str] = {}  # the server-side name of each prepared shape
_PREPARED: weakref.WeakKeyDictionary[Any, set[Key]] = weakref.WeakKeyDictionary()
_UNPREPARABLE: set[Key] = set()
_LOCK = threading.Lock()
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
    if getattr(db.obj, "prepares", False):
        return _prepared(key, sql, len(params))
    return sql


def _prepared(key: Key, sql: str, count: int) -> str:
    """Return ``EXECUTE name(%s, …)`` for `sql`, prepared on this thread's connection.

    A shape is prepared outside a transaction only: a PREPARE that fails
    there aborts nothing, and a shape the server refuses is then sent as
    plain SQL from on.
    """
    connection = db.connection()
    with _LOCK:
        done = _PREPARED.setdefault(connection, set())
        name = _NAMES.setdefault(key, f"tp_{len(_NAMES)}")
    if key not in done:
        if key in _UNPREPARABLE or db.in_transaction() or connection.get_transaction_status():
            return sql
        try:
            db.execute_sql(f"PREPARE {name} AS {numbered(sql)}")
        except (ProgrammingError, DataError, NotSupportedError) as exc:
            # The shape, not the connection: a lost connection raises on.
            log.warning("statement %s not prepared, sent as SQL: %s", key[2], exc)
            _UNPREPARABLE.add(key)
            return sql
        done.add(key)
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


def numbered(sql: str) -> str:
    """Return `sql` with psycopg2's ``%s`` placeholders as PostgreSQL's ``$1``, ``$2``, …"""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%"
        count += 1
        return f"${count}"

    return re.sub(r"%%|%s", number, sql)


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
