"""Open the database named by TUBEPOLLER_DATABASE_URL and keep its schema."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from peewee import Database, OperationalError, PostgresqlDatabase
from playhouse.db_url import connect as connect_url
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledPostgresqlDatabase

from .config import POSTGRES_SCHEMES, SQLITE_SCHEMES, database_scheme
from .errors import ConfigError
from .models import TABLES, User, db

# WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
# BEGIN, which avoids the read→write upgrade deadlock (peewee #1071).
# Writers queue on that one lock, and on a loaded 2-core machine with several
# worker processes a writer waited past 10 s: "database is locked" then costs
# the poll a retry and the host a second fetch. Transactions are short; a
# longer wait is cheaper than a retry.
SQLITE_BUSY_TIMEOUT_S = 30
SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal"}

# A pooled connection handed back less than this long ago is handed out again
# without a `SELECT 1` first; see `WarmPooledPostgresqlDatabase`.
PING_AFTER_IDLE_S = 1.0

# The server ends a session that sits this long inside a transaction. Ours
# last milliseconds; one that waits longer lost its client (a host cut off
# mid-commit, its packets dropped) and would hold its locks, the event-id
# lock among them (`store.lock_event_ids`), until TCP gives up on it, hours
# later: every other host's new videos would wait on it.
IDLE_IN_TRANSACTION_MS = 5000


def needs_ping(idle_s: float | None) -> bool:
    """True when a pooled connection idle for `idle_s` seconds is checked first.

    None: never handed back (or no record of it), so it is checked.
    """
    return idle_s is None or idle_s >= PING_AFTER_IDLE_S


class _SessionSettings(PostgresqlDatabase):
    """Each new PostgreSQL session is set up once, when the pool opens it."""

    def _connect(self):
        conn = super()._connect()  # autocommit: the setting holds for the session
        with conn.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
        return conn


class WarmPooledPostgresqlDatabase(PooledPostgresqlDatabase, _SessionSettings):
    """peewee's PostgreSQL pool, without a round trip for a connection just handed back.

    The pool checks every connection it hands out with a `SELECT 1`, under
    the lock that every thread of the process takes to connect. A worker
    thread hands its connection back after each message and takes one for
    the next, so that check was one more round trip per poll, made one
    thread at a time. A connection handed back a moment ago is open unless
    the server went away meanwhile; then the message fails on its first
    statement, is retried like any database error, and the pool drops the
    broken connection when it comes back (its transaction status is unknown).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._returned_at: dict[int, float] = {}
        self.prepares = True  # the shapes of poller/sql.py are prepared on the server
        super().__init__(*args, **kwargs)

    def _is_closed(self, conn):
        returned = self._returned_at.pop(self.conn_key(conn), None)
        idle = None if returned is None else time.monotonic() - returned
        if conn.closed:
            return True
        if needs_ping(idle):
            return super()._is_closed(conn)
        # Local checks only: the status a failed connection is left in.
        return conn.get_transaction_status() != self._adapter.txn_idle

    def _close(self, conn, close_conn=False):
        with self._pool_lock:  # the one the pool hands connections out under
            super()._close(conn, close_conn)
            key = self.conn_key(conn)
            if close_conn or conn.closed:  # not back in the pool
                self._returned_at.pop(key, None)
            else:
                self._returned_at[key] = time.monotonic()


def open_database(url: str, pool_size: int = 20) -> Database:
    """Bind the model proxy to the database at `url` and return it.

    Args:
        url: a peewee db_url, e.g. ``sqlite:///data/tubepoller.db`` or
            ``postgresql://user@host/db`` (``?prepare=false``: no server-side
            prepared statements, for a pooler in transaction mode).
        pool_size: connections kept per process on PostgreSQL.

    Raises:
        ConfigError: the URL has an unknown scheme.
    """
    scheme = database_scheme(url)
    if scheme in SQLITE_SCHEMES:
        path = sqlite_file(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # `?timeout=SECONDS` in the URL sets the busy timeout instead.
        options = (
            {}
            if "timeout" in dict(parse_qsl(urlsplit(url).query))
            else {"timeout": SQLITE_BUSY_TIMEOUT_S}
        )
        database = connect_url(
            url,
            pragmas=SQLITE_PRAGMAS,
            returning_clause=True,
            lock_type="IMMEDIATE",
            **options,
        )
    elif scheme in POSTGRES_SCHEMES:
        params = parse_url(url)
        if not params.get("database"):
            raise ConfigError(f"database URL {url!r} names no database")
        prepares = params.pop("prepare", True)  # ?prepare=false: see poller/sql.py
        database = WarmPooledPostgresqlDatabase(
            **params, max_connections=pool_size, stale_timeout=300
        )
        database.prepares = prepares is not False
    else:
        raise ConfigError(f"unsupported database URL {url!r}")
    db.initialize(database)
    return database


# Indexes an earlier release made that a wider one now covers: dropped once
# `create_tables` has made the replacement, so no write maintains both.
REPLACED_INDEXES = ("channel_next_poll_at",)  # by channel (next_poll_at, id)


def init_schema() -> list[str]:
    """Create missing tables, columns and indexes; safe to run again.

    Returns:
        The columns added to existing tables (empty on a fresh or current schema).
    """
    with db.connection_context():
        with db.atomic():
            db.create_tables(TABLES, safe=True)
            for index in REPLACED_INDEXES:
                db.execute_sql(f"DROP INDEX IF EXISTS {index}")
            return upgrade_columns()


__all__ = [
    "OperationalError",
    "connect",
    "database_state",
    "init_schema",
    "open_database",
    "release",
    "sqlite_file",
]


def upgrade_columns() -> list[str]:
    """Add columns the models have and the tables lack; return what was added.

    New tables and indexes come from `create_tables(safe=True)`; this covers
    the other change a release makes, a new nullable or defaulted column.
    """
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

    database = db.obj
    migrator = (
        PostgresqlMigrator(database)
        if "postgres" in type(database).__name__.lower()
        else SqliteMigrator(database)
    )
    added, operations = [], []
    for model in TABLES:
        table = model._meta.table_name
        present = {column.name for column in database.get_columns(table)}
        for field in model._meta.sorted_fields:
            if field.column_name not in present:
                operations.append(migrator.add_column(table, field.column_name, field))
                added.append(f"{table}.{field.column_name}")
    if operations:
        migrate(*operations)
    return added


def sqlite_file(url: str) -> str | None:
    """Return the file of a SQLite URL (None for PostgreSQL and an in-memory database)."""
    if database_scheme(url) not in SQLITE_SCHEMES:
        return None
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def connect() -> None:
    """Open this thread's connection, unless it is open already."""
    db.connect(reuse_if_open=True)


def release() -> None:
    """Roll back what is left open and close this thread's connection, if any."""
    if db.obj is None or db.is_closed():
        return
    try:
        if db.in_transaction():
            db.rollback()
    finally:
        db.close()


def database_state() -> str:
    """Return "ok", or "error: …" when the database or its schema is unusable."""
    try:
        connect()
        User.select(User.id).limit(1).execute()  # the schema too, not only the server
    except Exception as exc:  # a health check reports every failure; it never raises
        return f"error: {one_line(exc)}"
    return "ok"


def one_line(exc: Exception) -> str:
    """Return the first line of an error, at most 300 characters."""
    text = str(exc).strip() or repr(exc)
    return text.splitlines()[0][:300]
