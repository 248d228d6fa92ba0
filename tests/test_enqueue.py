"""Sending polls: claim channels batch by batch, one message each, nothing stranded."""

from __future__ import annotations

import threading

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import BrokerError

from poller import enqueue, host_store
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

        self.options: dict[int, dict] = {}  # what send_with_options added, by channel

    def send(self, channel_id: int) -> None:
        if self.refuse_after is not None and len(self.sent) >= self.refuse_after:
            raise BrokerError("connection lost")
        self.sent.append(channel_id)

    def send_with_options(self, *, args: tuple, kwargs: dict, delay: int | None) -> None:
        self.send(*args)
        self.options[args[0]] = {**kwargs, "delay": delay}


def make_due(count: int) -> list[int]:
    rows = [
        {"kind": "feed", "feed_url": f"http://127.0.0.1/{i}", "created_at": NOW,
         "next_poll_at": NOW - 1}
        for i in range(count)
    ]  # fmt: skip
    with db.atomic():
        Channel.insert_many(rows).execute()
    return [c.id for c in Channel.select(Channel.id).order_by(Channel.id)]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_every_due_channel_gets_one_message_across_batches(monkeypatch) -> None:
    monkeypatch.setattr(enqueue, "BATCH", 2)
    ids = make_due(5)
    claims: list[list[tuple[int, int | None]]] = []
    real_claim = enqueue.claim_with_hosts

    def counted_claim(*args, **kwargs):
        claims.append(real_claim(*args, **kwargs))
        return claims[-1]

    monkeypatch.setattr(enqueue, "claim_with_hosts", counted_claim)
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
    assert ids[2] not in actor.options  # at once, not at its due time an hour away


def test_a_manual_poll_of_a_hosted_channel_goes_at_its_slot_not_its_due_time() -> None:
    ids, _ = make_hosted(1)
    Channel.update(next_poll_at=NOW + 30).execute()  # due before the next tick
    actor = Actor()
    assert enqueue.enqueue_polls(actor, NOW, SETTINGS, due_only=False, channel_ids=ids) == 1
    assert actor.options.get(ids[0], {}).get("delay") is None  # its slot is now


def make_hosted(count: int, host: str = "127.0.0.1:9") -> tuple[list[int], int]:
    """Due channels of one host; return their ids and the host's id."""
    host_id = host_store.ensure_host(host, NOW)
    rows = [
        {"kind": "feed", "feed_url": f"http://{host}/{i}", "created_at": NOW,
         "next_poll_at": NOW - 1 - i, "host": host_id}
        for i in range(count)
    ]  # fmt: skip
    with db.atomic():
        Channel.insert_many(rows).execute()
    return [c.id for c in Channel.select(Channel.id).order_by(Channel.id)], host_id


def test_a_tick_claims_a_host_only_as_far_as_its_budget_and_spaces_the_sends() -> None:
    ids, _ = make_hosted(150)
    actor = Actor()
    settings = Settings(host_rate=2.0)
    assert enqueue.enqueue_polls(actor, NOW, settings) == 120  # 2/s for one minute
    delays = sorted(actor.options.get(c, {}).get("delay") or 0 for c in actor.sent)
    assert delays[:3] == [0, 500, 1000] and delays[-1] == 59_500
    # The rest stay due, unclaimed, for the next tick; none is charged anything.
    left = Channel.select().where(Channel.claimed_until < NOW)
    assert {c.id for c in left} == set(ids) - set(actor.sent)
    assert all(c.consecutive_failures == 0 for c in left)
    # The budget is spent: a second scheduler in the same second gets nothing.
    assert enqueue.enqueue_polls(Actor(), NOW, settings) == 0


def test_a_paused_host_is_not_claimed_and_its_end_sends_one_probe() -> None:
    ids, _ = make_hosted(5)
    host_store.pause("127.0.0.1:9", NOW, "bot_check: test", base=900)
    assert enqueue.enqueue_polls(Actor(), NOW + 10, SETTINGS) == 0
    assert Channel.select().where(Channel.claimed_until > NOW).count() == 0
    actor = Actor()
    assert enqueue.enqueue_polls(actor, NOW + 901, SETTINGS) == 1
    (probe,) = actor.sent
    assert actor.options[probe]["probe"]
    # While the probe is out, nobody else goes to the host.
    assert enqueue.enqueue_polls(Actor(), NOW + 902, SETTINGS) == 0


def test_a_channel_due_before_the_next_tick_is_sent_with_a_delay_to_its_due_time() -> None:
    host_id = host_store.ensure_host("127.0.0.1:9", NOW)
    dues = {"soon": NOW + 20, "last": NOW + 60, "later": NOW + 61, "free": NOW + 30}
    for name, due in dues.items():
        Channel.create(
            kind="feed",
            feed_url=f"http://127.0.0.1:9/{name}",
            created_at=NOW,
            next_poll_at=due,
            host=None if name == "free" else host_id,  # "free": linked to no host
        )
    ids = {c.feed_url.rsplit("/", 1)[1]: c.id for c in Channel.select()}
    actor = Actor()
    assert enqueue.enqueue_polls(actor, NOW, Settings(host_rate=2.0)) == 3
    assert ids["later"] not in actor.sent  # the next tick's
    assert {n: actor.options[ids[n]]["delay"] for n in ("soon", "last", "free")} == {
        "soon": 20_000,
        "last": 60_000,
        "free": 30_000,
    }
    # The claim outlasts the delay by the whole lease: no tick claims them again.
    claimed = Channel.get_by_id(ids["last"]).claimed_until
    assert claimed == NOW + SETTINGS.claim_lease + enqueue.MAX_DELAY_S
    assert enqueue.enqueue_polls(Actor(), NOW + 60, Settings(host_rate=2.0)) == 1  # "later"


def test_a_due_time_waits_for_a_later_host_slot() -> None:
    ids, host_id = make_hosted(3)
    Channel.update(next_poll_at=NOW + 1).execute()  # all three due in a second
    actor = Actor()
    assert enqueue.enqueue_polls(actor, NOW, Settings(host_rate=1.0)) == 3
    delays = sorted(actor.options[c]["delay"] for c in ids)
    assert delays == [1000, 1000, 2000]  # slots at 0, 1, 2 s; none before its due time


def test_the_next_batch_is_claimed_while_the_last_is_sent(monkeypatch) -> None:
    monkeypatch.setattr(enqueue, "BATCH", 2)
    ids = make_due(5)
    second_claim = threading.Event()
    real_claim = enqueue.claim_with_hosts
    claims = 0

    def counted_claim(*args, **kwargs):
        nonlocal claims
        claims += 1
        if claims == 2:
            second_claim.set()
        return real_claim(*args, **kwargs)

    class Overlapping(Actor):
        def send(self, channel_id: int) -> None:
            # The first batch's send waits for the second claim: it never comes
            # if the claim waited for the send.
            assert second_claim.wait(10), "the next batch was not claimed during the send"
            super().send(channel_id)

    monkeypatch.setattr(enqueue, "claim_with_hosts", counted_claim)
    actor = Overlapping()
    assert enqueue.enqueue_polls(actor, NOW, SETTINGS) == 5
    assert sorted(actor.sent) == ids


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_refusal_mid_tick_releases_its_batch_and_the_one_claimed_beside_it(
    monkeypatch,
) -> None:
    monkeypatch.setattr(enqueue, "BATCH", 2)
    ids = make_due(9)
    actor = Actor(refuse_after=3)  # the second batch's second message is refused
    with pytest.raises(BrokerError):
        enqueue.enqueue_polls(actor, NOW, SETTINGS)
    claimed = {c.id for c in Channel.select().where(Channel.claimed_until > NOW)}
    assert claimed == set(actor.sent) and len(claimed) == 3  # the third batch was freed too
    again = Actor()
    assert enqueue.enqueue_polls(again, NOW, SETTINGS) == 6
    assert sorted(actor.sent + again.sent) == ids


@pytest.mark.rabbitmq
def test_a_tick_of_many_batches_leaves_no_connection_open(monkeypatch, rabbitmq_vhost) -> None:
    monkeypatch.setattr(enqueue, "BATCH", 10)
    make_due(35)
    broker = RabbitmqBroker(url=rabbitmq_vhost.url)
    actor = dramatiq.actor(lambda channel_id: None, actor_name="poll_test", broker=broker)
    try:
        broker.declare_queue("default")
        assert enqueue.enqueue_polls(actor, NOW, SETTINGS) == 35
        # Every batch went from the sending thread, whose connection closed with it.
        assert not broker.connections
        assert rabbitmq_vhost.queues()["default"][0] == 35
    finally:
        broker.channel.queue_delete("default")
        broker.close()
