"""Sending polls: claim channels batch by batch, one message each, nothing stranded."""

from __future__ import annotations

import pytest
from dramatiq.errors import BrokerError

from poller import enqueue
from poller.config import Settings
from poller.models import Channel, db

pytestmark = pytest.mark.usefixtures("conn")
NOW = 1_800_000_000.0
SETTINGS = Settings()


class Actor:
    """Stands in for the poll actor: records sends, refuses after `refuse_after`."""

    def __init__(self, refuse_after: int | None = None) -> None:
        self.sent: list[int] = []
        self.refuse_after = refuse_after

    def send(self, channel_id: int) -> None:
        if self.refuse_after is not None and len(self.sent) >= self.refuse_after:
            raise BrokerError("connection lost")
        self.sent.append(channel_id)


def make_due(count: int) -> list[int]:
    rows = [
        {"kind": "feed", "feed_url": f"http://127.0.0.1/{i}", "created_at": NOW,
         "next_poll_at": NOW - 1}
        for i in range(count)
    ]  # fmt: skip
    with db.atomic():
        Channel.insert_many(rows).execute()
    return [c.id for c in Channel.select(Channel.id).order_by(Channel.id)]


def test_every_due_channel_gets_one_message_across_batches(monkeypatch) -> None:
    monkeypatch.setattr(enqueue, "BATCH", 2)
    ids = make_due(5)
    claims: list[list[int]] = []
    real_claim = enqueue.claim

    def counted_claim(*args, **kwargs):
        claims.append(real_claim(*args, **kwargs))
        return claims[-1]

    monkeypatch.setattr(enqueue, "claim", counted_claim)
    actor = Actor()
    assert enqueue.enqueue_polls(actor, NOW, SETTINGS) == 5
    assert sorted(actor.sent) == ids
    assert [len(batch) for batch in claims] == [2, 2, 1]
    assert enqueue.enqueue_polls(actor, NOW, SETTINGS) == 0  # all claimed


def test_a_refused_send_releases_the_unsent_channels_at_once() -> None:
    ids = make_due(4)
    actor = Actor(refuse_after=1)
    with pytest.raises(BrokerError):
        enqueue.enqueue_polls(actor, NOW, SETTINGS)
    claimed = {c.id for c in Channel.select().where(Channel.claimed_until > NOW)}
    assert claimed == set(actor.sent) and len(claimed) == 1
    again = Actor()
    assert enqueue.enqueue_polls(again, NOW, SETTINGS) == 3
    assert sorted(actor.sent + again.sent) == ids


def test_a_manual_poll_sends_only_the_channels_asked_for() -> None:
    ids = make_due(3)
    Channel.update(next_poll_at=NOW + 3600).execute()  # none is due
    actor = Actor()
    sent = enqueue.enqueue_polls(actor, NOW, SETTINGS, due_only=False, channel_ids=[ids[2]])
    assert (sent, actor.sent) == (1, [ids[2]])
