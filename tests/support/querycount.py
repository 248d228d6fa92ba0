"""SQL statements counted from peewee's log: a poll's count must not grow with its work."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

# Transaction control is not a query the poll chose to make, nor is preparing
# a statement on a connection for the first time (PostgreSQL, poller/sql.py).
_NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "PREPARE")


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL statements peewee logs meanwhile (transaction control excluded).

    The benchmark's `queries` scenario and the tests count with this.
    """
    statements: list[str] = []

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sql = record.msg[0] if isinstance(record.msg, tuple) else str(record.msg)
            if not sql.lstrip().upper().startswith(_NOT_COUNTED):
                statements.append(sql)

    logger = logging.getLogger("peewee")
    handler, level, propagate = Counter(logging.DEBUG), logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # count, do not print
    logger.addHandler(handler)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
