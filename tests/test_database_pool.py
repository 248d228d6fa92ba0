"""PostgreSQL: the pool's checks, a dead connection dropped, the prepared statements."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2.extensions
import pytest
from peewee import SQL, DatabaseError, InterfaceError

from poller import database, sql, store
from poller.models import User, db


def test_a_connection_is_checked_only_after_it_sat_idle() -> None:
    assert database.needs_ping(None)  # never handed back
    assert not database.needs_ping(0.01)
    assert database.needs_ping(database.PING_AFTER_IDLE_S)


class Counting(psycopg2.extensions.cursor):
    statements: list[str] = []

    def execute(self, sql, params=None):
        Counting.statements.append(sql)
        return super().execute(sql, params)


@pytest.fixture
def pings(database_url: str) -> Iterator[list[str]]:
    """The `SELECT 1`s the pool sends; every connection of the test counts them."""
    Counting.statements = []
    db.connect(reuse_if_open=True)
    db.connection().cursor_factory = Counting
    yield Counting.statements
    db.close()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_connection_handed_back_a_moment_ago_is_reused_without_a_round_trip(
    pings: list[str],
) -> None:
    first = db.connection()
    db.close()
    db.connect()
    assert db.connection() is first and pings == []
    db.close()
    pool = db.obj
    pool._returned_at[pool.conn_key(first)] -= database.PING_AFTER_IDLE_S  # sat idle
    db.connect()
    assert db.connection() is first and pings == ["SELECT 1"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_connection_the_server_ended_fails_once_and_is_dropped(pings: list[str]) -> None:
    first = db.connection()
    pid = first.get_backend_pid()
    db.close()
    other = psycopg2.connect(dbname=db.obj.database, **db.obj.connect_params)
    other.autocommit = True
    other.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    other.close()

    db.connect()  # handed out unchecked: it was handed back a moment ago
    with pytest.raises((DatabaseError, InterfaceError)):  # a retry, as for any database error
        User.select().count()
    db.close()
    db.connect()
    assert db.connection() is not first
    assert User.select().count() == 0


def test_placeholders_are_numbered_for_prepare() -> None:
    assert sql.numbered("a = %s AND b LIKE 'x%%' AND c IN (%s, %s)") == (
        "a = $1 AND b LIKE 'x%' AND c IN ($2, $3)"
    )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_shape_is_prepared_once_per_connection_and_answers_the_same(
    pings: list[str], database_url: str
) -> None:
    user = User.create(name="ann", token_hash="t", created_at=0)
    shape = ("test_user_by_id", uuid.uuid4().hex)

    def by_id() -> list[tuple]:
        text = sql.compiled(
            shape, lambda: User.select(User.name).where(User.id == user.id), [user.id]
        )
        return db.execute_sql(text, [user.id]).fetchall()

    assert by_id() == by_id() == [("ann",)]
    sent = [s for s in pings if "tp_" in s]
    assert [s.split(" ", 1)[0] for s in sent] == ["PREPARE", "EXECUTE", "EXECUTE"]

    db.close()
    db.obj.close_all()
    database.open_database(database_url + "&prepare=false")
    pings.clear()
    db.connect(reuse_if_open=True)
    db.connection().cursor_factory = Counting
    assert by_id() == [("ann",)]
    assert not any("tp_" in s for s in pings)
    db.close()
    db.obj.close_all()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_shape_the_server_cannot_prepare_is_sent_as_sql(pings: list[str]) -> None:
    shape = ("test_untyped", uuid.uuid4().hex)
    # PREPARE cannot tell the type of a parameter that is only tested for NULL.
    text = sql.compiled(shape, lambda: User.select(SQL("%s IS NULL", [None])), [None])
    assert not text.startswith("EXECUTE")
    assert db.execute_sql(text, [None]).fetchall() == []  # no users; the SQL runs


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_session_gone_silent_in_a_transaction_frees_the_event_lock(
    database_url: str, monkeypatch
) -> None:
    monkeypatch.setattr(database, "IDLE_IN_TRANSACTION_MS", 300)
    db.obj.close_all()  # the sessions opened before the test had the default
    holder, other = db.obj._connect(), db.obj._connect()  # two new sessions of the pool
    try:
        with holder.cursor() as cursor:
            cursor.execute("SHOW idle_in_transaction_session_timeout")
            assert cursor.fetchone()[0] == "300ms"
            # A poll's transaction took the event-id lock, then its client went
            # silent (a host cut off mid-commit): it sends nothing more.
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (store.EVENT_IDS_LOCK,))
        with other.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # without the server's timeout: an error
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (store.EVENT_IDS_LOCK,))
            cursor.execute("COMMIT")
    finally:
        holder.close()
        other.close()
