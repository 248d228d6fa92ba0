"""Small helpers the tests share: query counting, subscribing, table counts."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from poller import config, subscriptions
from poller.models import Channel, Event, User, UserVideoRef, Video


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        sql = record.msg[0] if isinstance(record.msg, tuple) else str(record.msg)
        if (
            not sql.lstrip()
            .upper()
            .startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"))
        ):
            self.statements.append(sql)


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL statements peewee runs (transaction control excluded)."""
    logger = logging.getLogger("peewee")
    handler = _Counter()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def make_user(name: str = "alice", admin: bool = False) -> User:
    user, _ = subscriptions.add_user(name, time.time(), admin=admin)
    return user


def subscribe(user: User, url: str, mode: str = "future_only", at: float | None = None) -> Channel:
    result = subscriptions.subscribe(user, url, mode, at or time.time(), config.get())
    return result.channel


def counts() -> dict[str, int]:
    return {
        "videos": Video.select().count(),
        "refs": UserVideoRef.select().count(),
        "events": Event.select().count(),
    }
