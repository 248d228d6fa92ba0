"""A worker host lost mid-run, in network namespaces: its polls move, its late commits are no-ops.

Three hosts (`s` the scheduler, `a` and `b` poll workers) reach RabbitMQ and
PostgreSQL only across their veth (see `fleet.py`). Host `a` is cut off
mid-run, for longer than the AMQP heartbeat; then PostgreSQL alone becomes
unreachable from it. The history checker must report nothing lost and
nothing duplicated. The figures printed here are the README's.
"""

from __future__ import annotations

import time

import pytest

from poller.models import NEW_EPISODE, Channel, Event
from tests.faults.conftest import assert_scheduled, plain_feeds, polled
from tests.faults.fleet import HEARTBEAT_S, Fleet, wait_quiet
from tests.faults.history import check_history
from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.procs import Worker
from tests.support.rows import make_user, subscribe

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.rabbitmq,
    pytest.mark.postgres,
    pytest.mark.usefixtures("conn"),
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

CHANNELS = 300
CUT_S = 3 * HEARTBEAT_S + 5  # well past the heartbeat: RabbitMQ declares the host dead
POLL_LINE = "poll channel="

# What a host logs while its network is gone; any other error still fails the test.
CONNECTION_LOSS = [
    "Connection", "connection", "StreamLost", "CONNECTION_FORCED", "ChannelWrongState",
    "ChannelClosed", "AMQP", "Broken pipe", "UnroutableError", "heartbeat", "Heartbeat",
]  # fmt: skip


def start(fleet: Fleet, feeds: FeedServer) -> dict[int, int]:
    """Subscribe CHANNELS channels, start both poll hosts and the scheduler."""
    user = make_user()
    # YouTube channels: each host builds their feed URLs from its own TUBEPOLLER_YOUTUBE_URL.
    channels = {
        subscribe(user, f"https://www.youtube.com/channel/{feeds.channel(n).id}").id: n
        for n in plain_feeds(feeds, CHANNELS)
    }
    # A fleet in its steady state: every catalog listed already, so a poll is a feed fetch
    # (a yt-dlp listing costs seconds of CPU, not what this test is about).
    Channel.update(cataloged_at=time.time()).where(Channel.id.in_(list(channels))).execute()
    feeds.latency = 0.2  # 300 polls on 8 threads: about 8 s of polling
    fleet.start_worker("a")
    fleet.start_worker("b")
    fleet.start_scheduler("s")
    return channels


def settle(
    cluster: Cluster,
    host_worker: Worker,
    feeds: FeedServer,
    channels: dict[int, int],
    *,
    started: float,
) -> int:
    """Wait for the cut host's late polls and the queue; nothing lost, nothing twice.

    Returns:
        How many polls the cut host has logged in all.
    """
    logged = wait_quiet(host_worker, POLL_LINE, quiet=10, timeout=120)
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain")
    check_history(feeds, channels).assert_clean()  # prints lost and duplicated
    assert_scheduled(list(channels), after=started)
    return logged


def all_polled_again(cluster: Cluster, fleet: Fleet, feeds: FeedServer, channels: dict[int, int]):
    """One more upload on every channel, every channel due: both hosts share the round."""
    for number in channels.values():
        feeds.channel(number).upload()
    mark = time.time()
    Channel.update(next_poll_at=mark).where(Channel.id.in_(list(channels))).execute()
    cluster.wait(
        lambda: Channel.select().where(
            Channel.id.in_(list(channels)) & (Channel.last_polled_at > mark)
        ).count() == len(channels),
        "the round after the fault",
        timeout=90,
    )  # fmt: skip
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain")
    episodes = Event.select().where(Event.kind == NEW_EPISODE).count()
    assert episodes == len(channels)  # each new upload announced once to its subscriber
    return mark


def test_a_host_cut_off_past_the_heartbeat_hands_its_polls_over(
    cluster: Cluster, fleet: Fleet, feeds: FeedServer
) -> None:
    cluster.expected = CONNECTION_LOSS
    fleet.lease = 600  # no claim runs out during the test: only redelivery can move a poll
    channels = start(fleet, feeds)
    ids = list(channels)
    started = time.time()
    a = next(w for w in cluster.workers if w.name == "poll@a")
    cluster.wait(lambda: polled(ids) >= 40 and a.text().count(POLL_LINE) >= 10, "polls on a")

    fleet.hosts["a"].cut()
    cut_at = time.time()
    at_cut = polled(ids)
    by_a_at_cut = a.text().count(POLL_LINE)
    # Host b finishes everything, a's unacknowledged polls included, while a is away.
    cluster.wait(lambda: polled(ids) == CHANNELS, "host b to poll everything", timeout=120)
    recovery = time.time() - cut_at
    assert a.text().count(POLL_LINE) == by_a_at_cut  # a did nothing meanwhile: it was cut
    time.sleep(max(0.0, cut_at + CUT_S - time.time()))
    fleet.hosts["a"].restore()
    restored_at = time.time()

    # Host a comes back: its stalled polls finish late, it reconnects, and then it is idle.
    late = settle(cluster, a, feeds, channels, started=started) - by_a_at_cut
    print(
        f"link cut: polled {at_cut}/{CHANNELS} at the cut, all polled "
        f"{recovery:.1f} s after it (cut for {restored_at - cut_at:.1f} s, heartbeat "
        f"{HEARTBEAT_S} s); host a finished {late} polls late"
    )
    assert at_cut < CHANNELS
    assert late > 0  # the cut caught polls mid-flight, and they committed after it

    # Both hosts poll normally again, and the next uploads are announced once.
    all_polled_again(cluster, fleet, feeds, channels)
    assert a.text().count(POLL_LINE) > by_a_at_cut + late  # host a took part again
    check_history(feeds, channels).assert_clean()


def test_postgres_unreachable_from_one_host_loses_and_duplicates_nothing(
    cluster: Cluster, fleet: Fleet, feeds: FeedServer
) -> None:
    cluster.expected = CONNECTION_LOSS
    fleet.lease = 10  # a poll stuck on host a is claimed again once its lease runs out
    channels = start(fleet, feeds)
    ids = list(channels)
    started = time.time()
    a = next(w for w in cluster.workers if w.name == "poll@a")
    cluster.wait(lambda: polled(ids) >= 40 and a.text().count(POLL_LINE) >= 10, "polls on a")

    port = fleet.ports["a"]["postgres"]
    fleet.hosts["a"].block_port(port)  # RabbitMQ and the feeds still reachable from a
    cut_at = time.time()
    at_cut = polled(ids)
    by_a_at_cut = a.text().count(POLL_LINE)
    # Host b polls on; what host a held comes back when its claims run out (10 s).
    while time.time() < cut_at + CUT_S and polled(ids) < CHANNELS:
        time.sleep(0.1)
    during = polled(ids)
    recovery = time.time() - cut_at
    time.sleep(max(0.0, cut_at + CUT_S - time.time()))
    fleet.hosts["a"].unblock_port(port)
    restored_at = time.time()
    cluster.wait(lambda: polled(ids) == CHANNELS, "every channel's poll", timeout=120)
    recovery = max(recovery, time.time() - cut_at) if during < CHANNELS else recovery
    late = settle(cluster, a, feeds, channels, started=started) - by_a_at_cut
    print(
        f"database cut from host a: polled {at_cut}/{CHANNELS} at the cut, {during} while "
        f"it lasted ({restored_at - cut_at:.1f} s), all {recovery:.1f} s after the cut; "
        f"host a finished {late} polls after"
    )
    assert at_cut < during  # host b went on polling while a could not reach the database
    assert late > 0  # the cut caught polls mid-flight, and they finished after it
    all_polled_again(cluster, fleet, feeds, channels)
    check_history(feeds, channels).assert_clean()
