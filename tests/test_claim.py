"""The tick's claim: due channels once, never twice, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from poller.claim import claim, release
from poller.models import Channel, db

pytestmark = pytest.mark.usefixtures("conn")
NOW = 1_800_000_000.0
LEASE = 900.0


def make_channels(count: int, next_poll_at: float | None = NOW - 1) -> list[int]:
    rows = [
        {
            "kind": "feed",
            "feed_url": f"http://127.0.0.1/{i}",
            "created_at": NOW,
            "next_poll_at": next_poll_at,
        }
        for i in range(count)
    ]
    with db.atomic():
        Channel.insert_many(rows).execute()
    return [c.id for c in Channel.select(Channel.id).order_by(Channel.id)]


def test_only_due_unclaimed_subscribed_channels_are_claimed() -> None:
    due = make_channels(3)
    later = Channel.insert(
        kind="feed", feed_url="http://127.0.0.1/later", created_at=NOW, next_poll_at=NOW + 60
    ).execute()
    Channel.insert(
        kind="feed", feed_url="http://127.0.0.1/nobody", created_at=NOW, next_poll_at=None
    ).execute()

    assert sorted(claim(NOW, LEASE)) == due
    assert claim(NOW, LEASE) == []  # still leased
    # The leases ran out, and the later channel is due by now too.
    assert sorted(claim(NOW + LEASE + 1, LEASE)) == [*due, later]


def test_a_manual_poll_all_claims_channels_that_are_not_due() -> None:
    ids = make_channels(2, next_poll_at=NOW + 3600)
    assert claim(NOW, LEASE) == []
    assert sorted(claim(NOW, LEASE, due_only=False)) == ids


def test_a_claim_can_be_limited_to_some_channels_and_released() -> None:
    ids = make_channels(3)
    assert claim(NOW, LEASE, channel_ids=[ids[1]]) == [ids[1]]
    assert claim(NOW, LEASE, channel_ids=[ids[1]]) == []
    release([ids[1]])
    assert claim(NOW, LEASE, channel_ids=[ids[1]]) == [ids[1]]
    assert claim(NOW, LEASE, channel_ids=[]) == []


def test_claims_come_most_overdue_first_in_batches() -> None:
    make_channels(5)
    Channel.update(next_poll_at=NOW - 100).where(Channel.id == 4).execute()
    first = claim(NOW, LEASE, limit=2)
    assert len(first) == 2 and 4 in first
    assert len(claim(NOW, LEASE, limit=10)) == 3


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_concurrent_claimers_never_claim_a_channel_twice(database_url: str) -> None:
    make_channels(2000)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claimer() -> None:
        try:
            with db.connection_context():
                start.wait()
                mine: list[int] = []
                while batch := claim(NOW, LEASE, limit=100):
                    mine += batch
                claimed.append(mine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    every = [i for mine in claimed for i in mine]
    assert len(every) == 2000 and len(set(every)) == 2000
