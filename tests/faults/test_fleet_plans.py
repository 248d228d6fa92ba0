"""At fleet size on PostgreSQL, the tick's due-check and claim use indexes, not a table scan.

The tick runs every minute over every channel of the fleet: a sequential
scan of 100,000 rows per tick is what this guards against. The planner
only picks an index when the table is big enough and analysed, so the test
fills it like a fleet (most channels polled and due later, a few due now,
some claimed) and asks PostgreSQL for the plan of the very statement the
claim runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from peewee import chunked

from poller.claim import claim, claim_with_hosts
from poller.models import Channel, db

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.usefixtures("conn"),
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

CHANNELS = 50_000
DUE = 200


@contextmanager
def statements() -> Iterator[list[tuple[str, tuple]]]:
    """Collect the (SQL, parameters) pairs peewee runs meanwhile."""
    seen: list[tuple[str, tuple]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if isinstance(record.msg, tuple):
                seen.append((record.msg[0], tuple(record.msg[1] or ())))

    logger = logging.getLogger("peewee")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def fleet_of_channels(now: float) -> None:
    rows = [
        {
            "kind": "youtube",
            "external_id": f"UC{i:022d}",
            "feed_url": f"https://www.youtube.com/feeds/videos.xml?channel_id=UC{i:022d}",
            "created_at": now - 86400,
            "last_polled_at": now - 600,
            # A few due now, the rest spread over the next hours; one in ten claimed.
            "next_poll_at": now - 1 - i if i < DUE else now + 60 + i,
            "claimed_until": now + 300 if i % 10 == 9 else 0,
        }
        for i in range(CHANNELS)
    ]
    with db.atomic():
        for chunk in chunked(rows, 1000):
            Channel.insert_many(chunk).execute()
    db.execute_sql("ANALYZE channel")


def test_the_claim_and_its_due_check_use_indexes_at_fleet_size() -> None:
    now = time.time()
    fleet_of_channels(now)
    with statements() as seen:
        claimed = claim(now, 900)
    assert len(claimed) == DUE - DUE // 10  # the due ones, less those already claimed
    (sql, params), *_ = [(s, p) for s, p in seen if s.lstrip().upper().startswith("UPDATE")]
    plan = "\n".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params).fetchall())
    print(plan)
    # The due-check: a range scan of the next_poll_at index, never a scan of the table.
    assert "channel_next_poll_at" in plan, plan
    # The claim: each candidate row found again by its primary key.
    assert "channel_pkey" in plan, plan
    # No channel row is found by scanning; the host table (one row a host,
    # read for the paused ones) is small enough that a scan is the right plan.
    assert "Seq Scan on channel" not in plan, plan


def test_each_batch_of_a_mass_tick_starts_where_the_last_ended() -> None:
    # Every channel due at once (the scheduler was down, or a restore): the
    # tick claims batch after batch; each starts after the last one's final
    # row on the (next_poll_at, id) index instead of rescanning the claimed ones.
    now = time.time()
    fleet_of_channels(now)
    Channel.update(next_poll_at=now - 60, claimed_until=0).execute()
    db.execute_sql("ANALYZE channel")
    first = claim_with_hosts(now, 900, limit=1000)
    after = (first[-1][2], first[-1][0])
    with statements() as seen:
        second = claim_with_hosts(now, 900, limit=1000, after=after)
    assert len(second) == 1000 and not {c for c, _, _ in first} & {c for c, _, _ in second}
    (sql, params), *_ = [(s, p) for s, p in seen if s.lstrip().upper().startswith("UPDATE")]
    plan = "\n".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params).fetchall())
    print(plan)
    assert "Index Scan using channel_next_poll_at_id" in plan, plan
    assert "Index Cond: " in plan and "ROW(next_poll_at, id) >" in plan, plan
    assert "Sort" not in plan and "Seq Scan on channel" not in plan, plan
