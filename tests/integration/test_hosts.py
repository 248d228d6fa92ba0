"""A host's pause through real workers: a bot check stops every worker's traffic to it.

Two `dramatiq` worker processes poll channels of one fake YouTube host. When
the host answers with its bot-check page, the first answer pauses the host
for every worker, through the database: the channels are deferred, not
failed, nothing more reaches the host until the pause ends, and then exactly
one probe goes, whose outcome doubles or ends the pause.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from poller.models import Channel, Host
from tests.support.cluster import BOTH_DATABASES, Cluster
from tests.support.fakeyoutube import BOT_CHECK, NORMAL, RATE_LIMITED, FakeYouTube
from tests.support.rows import make_user, subscribe

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.slow,
    pytest.mark.usefixtures("conn"),
    BOTH_DATABASES,
]

# TUBEPOLLER_HOST_PAUSE for these workers, seconds: long enough for the
# checks made during the pause on a loaded machine (two CLI runs and a wait).
PAUSE = 20


@pytest.fixture
def feeds() -> Iterator[FakeYouTube]:
    server = FakeYouTube()
    yield server
    server.stop()


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    return {"TUBEPOLLER_HOST_PAUSE": str(PAUSE)}


def channels(ids: list[int]) -> list[Channel]:
    return list(Channel.select().where(Channel.id.in_(ids)).order_by(Channel.id))


def host_row() -> Host:
    (host,) = Host.select()
    return host


def outcomes(ids: list[int]) -> set[str | None]:
    return {c.last_outcome for c in channels(ids)}


def subscribe_all(feeds: FakeYouTube, count: int) -> list[int]:
    user = make_user()
    sources = [feeds.add_channel() for _ in range(count)]
    for source in sources:
        source.upload(published=time.time() - 86400)
    return [subscribe(user, f"https://www.youtube.com/channel/{s.id}").id for s in sources]


def test_a_bot_check_pauses_the_host_for_every_worker_then_one_probe_ends_it(
    cluster: Cluster, feeds: FakeYouTube
) -> None:
    ids = subscribe_all(feeds, 8)
    cluster.start_worker("poll", "tick", threads=2)
    cluster.start_worker("poll", "tick", threads=2)

    feeds.set_mode(BOT_CHECK)
    cluster.sender.poll(*ids)  # as if sent before the host began refusing
    cluster.wait(lambda: outcomes(ids) == {"deferred"}, "every channel deferred", timeout=60)
    in_flight = feeds.mode_counts[BOT_CHECK]
    host = host_row()
    assert host.paused_until is not None and host.pause_reason.startswith("bot_check")
    assert 1 <= in_flight < len(ids), "polls that found the host paused must not reach it"
    for channel in channels(ids):
        assert channel.consecutive_failures == 0  # deferred, not charged
        assert channel.claimed_until == 0 and channel.next_poll_at >= host.paused_until

    # During the pause: the tick claims none of the host's channels, and a
    # poll message that still arrives is deferred without a request.
    listed = json.loads(cluster.tubepoller("host", "list", "--json").stdout)
    assert [h["paused"] for h in listed] == [True]
    cluster.tubepoller("poll", "--all")
    cluster.sender.poll(ids[0])
    time.sleep(1.5)
    assert time.time() < host.paused_until, "the checks outlasted the pause: raise PAUSE"
    assert feeds.mode_counts[BOT_CHECK] == in_flight
    assert "paused" in cluster.tubepoller("channel", "list", "--json").stdout

    # The pause ends, the host still refuses: one probe, and the pause doubles.
    cluster.wait(lambda: time.time() > host.paused_until + 0.2, "the pause to end", timeout=60)
    cluster.tubepoller("poll", "--all")
    cluster.wait(lambda: host_row().pause_level == 1, "the failed probe to double the pause")
    assert feeds.mode_counts[BOT_CHECK] == in_flight + 1
    during_pause = feeds.mode_counts[BOT_CHECK] - 1  # all but the answer that paused it
    print(f"requests to the host after its bot check paused it: {during_pause}")

    # The host is back: the next probe ends the pause, then every channel polls.
    feeds.set_mode(NORMAL)
    doubled = host_row()
    cluster.wait(
        lambda: time.time() > doubled.paused_until + 0.2, "the doubled pause to end", timeout=60
    )
    cluster.tubepoller("poll", "--all")
    cluster.wait(lambda: host_row().paused_until is None, "the probe to end the pause")
    assert feeds.mode_counts[BOT_CHECK] == in_flight + 1
    cluster.tubepoller("poll", "--all")
    cluster.wait(
        lambda: all(c.last_polled_at is not None for c in channels(ids)),
        "every channel polled after the pause",
        timeout=60,
    )
    assert all(c.consecutive_failures == 0 for c in channels(ids))


def test_a_429_storm_pauses_the_host_at_least_for_its_retry_after(
    cluster: Cluster, feeds: FakeYouTube
) -> None:
    ids = subscribe_all(feeds, 4)
    cluster.start_worker("poll", "tick", threads=2)
    feeds.set_mode(RATE_LIMITED, retry_after=60)
    started = time.time()
    cluster.tubepoller("poll", "--all")
    cluster.wait(lambda: outcomes(ids) == {"deferred"}, "every channel deferred", timeout=60)
    host = host_row()
    assert host.pause_reason.startswith("rate_limited")
    assert host.paused_until >= started + 60  # Retry-After beats the 20 s pause
    assert all(c.consecutive_failures == 0 for c in channels(ids))
    assert feeds.mode_counts[RATE_LIMITED] <= 2  # at most the two threads' polls in flight
