"""The database goes away (PostgreSQL restarted) or stays locked (SQLite): retried, not lost.

The PostgreSQL test restarts the server: run it alone (CI runs tests serially).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from peewee import DatabaseError, InterfaceError, OperationalError

from poller.models import db
from tests.faults.conftest import assert_end_state, plain_feeds, polled
from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.procs import wait_for
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.rabbitmq]

T = TypeVar("T")
CHANNELS = 200
BUSY_TIMEOUT_S = 3  # the workers' SQLite busy timeout in the lock test


def pg_cluster() -> str:
    versions = sorted(os.listdir("/etc/postgresql"), key=int)
    return versions[-1]


def restart_postgres() -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", pg_cluster(), "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wait_for(
        lambda: (
            subprocess.run(
                ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False
            ).returncode
            == 0
        ),
        60,
        "PostgreSQL to accept connections",
        every=0.5,
    )


def reconnecting(query: Callable[[], T]) -> Callable[[], T | None]:
    """Run `query` on this process's connection, opening a new one if the server dropped it."""

    def run() -> T | None:
        try:
            return query()
        except (OperationalError, InterfaceError):
            try:
                db.close()
            except DatabaseError:
                pass
            if hasattr(db.obj, "close_all"):
                db.obj.close_all()
            db.connect(reuse_if_open=True)
            return None

    return run


def keep_ticking(cluster: Cluster, ids: list[int]) -> Callable[[], bool]:
    """The cron: a tick every 2 s until every channel has been polled."""

    def done() -> bool:
        if reconnecting(lambda: polled(ids))() == len(ids):
            return True
        cluster.sender.send("tick", "tick")
        time.sleep(2)
        return False

    return done


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.usefixtures("conn")
@pytest.mark.restarts_services
def test_postgres_restarted_mid_poll_loses_nothing(cluster: Cluster, feeds: FeedServer) -> None:
    cluster.expected = [
        "OperationalError", "InterfaceError", "terminating connection", "server closed",
        "connection already closed", "the database system is", "Connection refused",
    ]  # fmt: skip
    user = make_user()
    numbers = plain_feeds(feeds, CHANNELS)
    channels = {subscribe(user, feeds.feed_url(n)).id: n for n in numbers}
    ids = list(channels)
    feeds.latency = 0.1
    started = time.time()
    cluster.start_worker("poll", "tick", processes=2, threads=4)
    cluster.sender.send("tick", "tick")
    mid = cluster.wait(lambda: (n := polled(ids)) >= 20 and n, "polls under way")
    restart_postgres()
    assert mid < CHANNELS
    cluster.wait(keep_ticking(cluster, ids), "every channel's poll after the restart", 120)
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain", 60)
    assert_end_state(feeds, channels, after=started)


@pytest.mark.usefixtures("conn")
def test_sqlite_locked_by_another_writer_is_retried_not_lost(
    cluster: Cluster, feeds: FeedServer, database_url: str
) -> None:
    cluster.expected = ["database is locked"]
    user = make_user()
    numbers = plain_feeds(feeds, CHANNELS)
    channels = {subscribe(user, feeds.feed_url(n)).id: n for n in numbers}
    ids = list(channels)
    feeds.latency = 0.05
    started = time.time()
    # Three worker processes of four threads each write to one SQLite file,
    # waiting 3 s for its lock (the URL's busy timeout) instead of 30.
    cluster.env["TUBEPOLLER_DATABASE_URL"] = f"{database_url}?timeout={BUSY_TIMEOUT_S}"
    workers = [cluster.start_worker("poll", "tick", processes=3, threads=4)]
    cluster.sender.send("tick", "tick")
    cluster.wait(lambda: polled(ids) >= 10, "polls under way")

    # Another writer holds the write lock past the workers' busy timeout.
    path = database_url.split(":///", 1)[1]
    blocker = sqlite3.connect(path, timeout=60, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    held = polled(ids)
    time.sleep(BUSY_TIMEOUT_S + 1)
    blocker.execute("ROLLBACK")
    blocker.close()
    assert held < CHANNELS

    cluster.wait(keep_ticking(cluster, ids), "every channel's poll after the lock", 120)
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain", 60)
    assert "database is locked" in workers[0].text()  # the fault did hit the workers
    assert_end_state(feeds, channels, after=started)
