"""A channel's poll history stays bounded, and pruning one channel leaves the others alone."""

from __future__ import annotations

import pytest

from poller.models import POLL_HISTORY, Channel, PollRecord
from poller.poll_history import PRUNE_EVERY, record_poll
from tests.support.cluster import BOTH_DATABASES
from tests.support.querycount import count_queries

pytestmark = pytest.mark.usefixtures("conn")


def make_channel(n: int) -> int:
    return Channel.create(kind="feed", feed_url=f"http://127.0.0.1/{n}", created_at=0).id


def seqs(channel_id: int) -> list[int]:
    rows = PollRecord.select(PollRecord.seq).where(PollRecord.channel == channel_id)
    return sorted(row.seq for row in rows)


@BOTH_DATABASES
def test_the_history_keeps_the_last_polls_and_never_grows_past_its_bound(database_url) -> None:
    busy, quiet = make_channel(1), make_channel(2)
    record_poll(quiet, 1.0, "unchanged", 0.01)
    largest = 0
    for n in range(1, 4 * POLL_HISTORY + 1):
        assert record_poll(busy, float(n), "not_modified", 0.01, http_status=304) == n
        largest = max(largest, len(seqs(busy)))

    assert largest < POLL_HISTORY + PRUNE_EVERY
    kept = seqs(busy)
    assert kept[-POLL_HISTORY:] == list(range(3 * POLL_HISTORY + 1, 4 * POLL_HISTORY + 1))
    assert seqs(quiet) == [1]


def test_a_poll_costs_one_statement_and_a_prune_one_more() -> None:
    channel_id = make_channel(1)
    for n in range(1, PRUNE_EVERY - 1):
        record_poll(channel_id, float(n), "unchanged", 0.0)
    with count_queries() as plain:
        record_poll(channel_id, 100.0, "unchanged", 0.0, error="x" * 5000)
    with count_queries() as pruning:
        assert record_poll(channel_id, 101.0, "unchanged", 0.0) == PRUNE_EVERY

    assert len(plain) == 1 and len(pruning) == 2
    longest = max(len(r.error or "") for r in PollRecord.select())
    assert longest == 1000
