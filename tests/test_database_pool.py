"""The PostgreSQL pool: no round trip for a connection just handed back, a dead one dropped."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2.extensions
import pytest
from peewee import DatabaseError, InterfaceError

from poller import database
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
