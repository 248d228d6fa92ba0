"""SIGKILL of the poll workers, again and again, while hundreds of channels poll."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import assert_end_state, plain_feeds, polled
from tests.support.cluster import Cluster, feed_path
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.rabbitmq]

CHANNELS = 500
KILLS = 4
KILL_EVERY_S = 1.5
PROCESSES, THREADS = 2, 4


@pytest.mark.usefixtures("conn")
def test_poll_workers_killed_repeatedly_lose_and_duplicate_nothing(
    cluster: Cluster, feeds: FeedServer
) -> None:
    user = make_user()
    numbers = plain_feeds(feeds, CHANNELS)
    channels = {subscribe(user, feeds.feed_url(n)).id: n for n in numbers}
    feeds.latency = 0.1  # every poll spends 0.1 s in the fetch: kills land mid-poll
    started = time.time()
    worker = cluster.start_worker("poll", "tick", processes=PROCESSES, threads=THREADS)
    cluster.tubepoller("poll", "--all", "--due-only")  # the tick: claim all, fan out

    progress = []
    for _ in range(KILLS):
        time.sleep(KILL_EVERY_S)
        worker.kill()  # master and worker processes, messages unacknowledged
        progress.append(polled(channels))
        worker = cluster.start_worker("poll", "tick", processes=PROCESSES, threads=THREADS)

    cluster.wait(lambda: polled(channels) == CHANNELS, "every channel's poll", timeout=120)
    cluster.wait(lambda: cluster.vhost.queues().get("poll") == (0, 0), "the queue to drain")

    # The kills did land mid-run: some channels were done, others not yet.
    print("polled at each kill:", progress)
    assert 0 < progress[0] < CHANNELS, progress
    assert_end_state(feeds, channels, after=started)
    hits = [feeds.hits.get(feed_path(feeds.channel(n).id), 0) for n in numbers]
    assert min(hits) >= 1
    # Only the polls in flight at a kill are fetched again: at most one per thread per kill.
    print("feed fetches:", sum(hits))
    assert sum(hits) <= CHANNELS + KILLS * PROCESSES * THREADS, sum(hits)
