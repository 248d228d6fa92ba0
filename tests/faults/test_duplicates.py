"""Work that arrives twice: schedulers racing, a message delivered twice, a poll replayed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import dramatiq
import pytest

from poller.models import NEW_EPISODE, PENDING, Channel, Event, UserVideoRef, Video
from tests.faults.conftest import assert_end_state, plain_feeds, polled
from tests.support.cluster import BOTH_DATABASES, Cluster, feed_path
from tests.support.feedserver import FeedServer
from tests.support.procs import ROOT
from tests.support.rows import make_user, subscribe

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.rabbitmq,
    pytest.mark.usefixtures("conn"),
    BOTH_DATABASES,
]

SCHEDULERS = 3
CHANNELS = 300

# One scheduler: wait for the agreed instant, then run the tick in this process
# (claim due channels, send their polls to RabbitMQ), as periodiq's tick does.
TICK = """
import sys, time
from poller import actors, config
from poller.database import open_database
open_database(config.get().database_url)  # a worker opens it at boot; this is no worker
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
actors.tick()
"""


def test_schedulers_racing_enqueue_each_channel_once(cluster: Cluster, feeds: FeedServer) -> None:
    user = make_user()
    numbers = plain_feeds(feeds, CHANNELS)
    channels = {subscribe(user, feeds.feed_url(n)).id: n for n in numbers}
    started = time.time()

    at = time.time() + 3  # after every interpreter has imported the actors
    schedulers = [
        subprocess.Popen(
            [sys.executable, "-c", TICK, str(at)],
            cwd=ROOT,
            env=cluster.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(SCHEDULERS)
    ]
    for scheduler in schedulers:
        out, _ = scheduler.communicate(timeout=60)
        assert scheduler.returncode == 0, out

    # Every due channel was claimed by exactly one of them: one message each.
    # A poll whose host's slot is a few ms out waits in poll.DQ (the host budget).
    queues = cluster.vhost.queues()
    assert queues["poll"][0] + queues.get("poll.DQ", (0, 0))[0] == CHANNELS, queues
    now = time.time()
    assert Channel.select().where(Channel.claimed_until > now).count() == CHANNELS

    cluster.start_worker("poll", processes=2, threads=4)
    cluster.wait(lambda: polled(channels) == CHANNELS, "every channel's poll", timeout=90)
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain")
    fetches = Counter(feeds.hits.get(feed_path(feeds.channel(n).id), 0) for n in numbers)
    assert fetches == {1: CHANNELS}  # each channel's feed fetched exactly once
    assert_end_state(feeds, channels, after=started)


def wait_polled_after(cluster: Cluster, ids: list[int], mark: dict[int, float]) -> None:
    def done() -> bool:
        rows = Channel.select(Channel.id, Channel.last_polled_at).where(Channel.id.in_(ids))
        return all((c.last_polled_at or 0) > mark.get(c.id, 0) for c in rows)

    cluster.wait(done, "the polls", timeout=60)
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain")


def snapshot() -> dict[str, list[dict]]:
    return {
        "videos": list(Video.select().order_by(Video.id).dicts()),
        "refs": list(UserVideoRef.select().order_by(UserVideoRef.id).dicts()),
        "events": list(Event.select().order_by(Event.id).dicts()),
    }


def test_a_message_delivered_twice_and_replayed_changes_nothing(
    cluster: Cluster, feeds: FeedServer
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    numbers = plain_feeds(feeds, 5)
    ids = []
    for n in numbers:
        ids.append(subscribe(alice, feeds.feed_url(n)).id)
        subscribe(bob, feeds.feed_url(n))
    cluster.start_worker("poll", threads=4)
    cluster.sender.poll(*ids)  # the first poll: back catalog
    wait_polled_after(cluster, ids, {})

    new = {n: feeds.channel(n).upload() for n in numbers}  # one new upload each
    feeds.latency = 0.5  # both copies of a message are in flight at once
    mark = {c.id: c.last_polled_at for c in Channel.select().where(Channel.id.in_(ids))}
    messages = [
        dramatiq.Message(
            queue_name="poll", actor_name="poll_channel", args=(cid,), kwargs={}, options={}
        )
        for cid in ids
    ]
    for message in messages:  # the same message (same id) twice, as a redelivery does
        cluster.sender.broker.enqueue(message)
        cluster.sender.broker.enqueue(message)
    wait_polled_after(cluster, ids, mark)
    time.sleep(1)  # the later copy of each finished too (the queue is empty)

    announced = list(Video.select().where(Video.external_id.in_(list(new.values()))))
    assert len(announced) == len(numbers)
    assert {v.download_status for v in announced} == {PENDING}
    episodes = Event.select().where(Event.kind == NEW_EPISODE)
    assert sorted((e.user_id, e.video_id) for e in episodes) == sorted(
        (u.id, v.id) for u in (alice, bob) for v in announced
    )
    # One download message per new video: only the copy that inserted it sends one.
    assert cluster.vhost.queues()["downloads"] == (len(numbers), 0)
    assert_end_state(feeds, dict(zip(ids, numbers, strict=True)), subscribers=2, after=mark[ids[0]])

    # A poll replayed after it committed (a redelivery after the ack was lost).
    before = snapshot()
    feeds.latency = 0
    feeds.validators = False  # a full 200 body: the replay scans it, not a 304
    mark = {c.id: c.last_polled_at for c in Channel.select().where(Channel.id.in_(ids))}
    for message in messages:
        cluster.sender.broker.enqueue(message)
    wait_polled_after(cluster, ids, mark)
    assert snapshot() == before
    assert cluster.vhost.queues()["downloads"] == (len(numbers), 0)
    assert {c.last_outcome for c in Channel.select().where(Channel.id.in_(ids))} == {"unchanged"}
