"""Polls through real RabbitMQ and real `dramatiq` worker processes, on SQLite and PostgreSQL.

The test process sends messages (or runs the `tubepoller` command) and reads
the database; everything in between is the production path: the broker, the
worker processes, their own database connections, the feed server on loopback.
Conditions are awaited by polling the database against a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from poller.models import CATALOGED, Channel, Event, UserVideoRef, Video
from poller.pipeline import MAX_KILLED_POLLS
from tests.support.cluster import BOTH_DATABASES, Cluster, catalog_path, feed_path, hits_of
from tests.support.feedserver import FeedServer
from tests.support.rows import counts, make_user, subscribe

# Every test here runs real worker processes: all of them are slow.
pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.slow,
    pytest.mark.usefixtures("conn"),
    BOTH_DATABASES,
]

# The poll state a poll may change even when it finds nothing.
RESCHEDULING = {
    "last_polled_at",
    "next_poll_at",
    "interval_s",
    "claimed_until",
    "poll_attempts",
    "last_outcome",
}


def youtube_url(external_id: str) -> str:
    # What a user pastes; TUBEPOLLER_YOUTUBE_URL sends the polls to the feed server.
    return f"https://www.youtube.com/channel/{external_id}"


def channel(channel_id: int) -> Channel:
    return Channel.get_by_id(channel_id)


def polled(ids: Sequence[int]) -> int:
    """How many of these channels have finished a poll."""
    return (
        Channel.select()
        .where(Channel.id.in_(list(ids)) & Channel.last_polled_at.is_null(False))
        .count()
    )


def video_ids(channel_id: int) -> list[str]:
    return [v.external_id for v in Video.select().where(Video.channel == channel_id)]


def rows() -> dict[str, list[dict]]:
    """Every stored video, reference and event, as they are."""
    return {
        "videos": list(Video.select().order_by(Video.id).dicts()),
        "refs": list(UserVideoRef.select().order_by(UserVideoRef.id).dicts()),
        "events": list(Event.select().order_by(Event.id).dicts()),
    }


def drained(cluster: Cluster, queue: str = "poll") -> bool:
    """True when the queue holds no message, ready or in a worker's hands."""
    return cluster.vhost.queues().get(queue) == (0, 0)


def test_a_slow_channel_does_not_delay_the_others(cluster: Cluster, feeds: FeedServer) -> None:
    user = make_user()
    slow_source = feeds.add_channel()
    slow_source.upload(published=time.time() - 3600)
    slow_source.delay = 4.0
    slow = subscribe(user, feeds.feed_url(slow_source.number))  # a plain feed: no yt-dlp
    fast_sources = [feeds.add_channel() for _ in range(20)]
    for source in fast_sources:
        source.upload(published=time.time() - 3600)
        source.upload(published=time.time() - 60)
    fast = [subscribe(user, feeds.feed_url(s.number)).id for s in fast_sources]
    cluster.start_worker("poll", threads=4)

    cluster.sender.poll(slow.id)
    # The slow poll holds one of the four threads before the others are sent.
    cluster.wait(lambda: feeds.hits.get(feed_path(slow_source.id)), "the slow feed's request")
    cluster.sender.poll(*fast)
    cluster.wait(lambda: polled(fast) == len(fast), "the 20 fast channels' polls")

    in_flight = channel(slow.id)
    assert in_flight.last_polled_at is None and video_ids(slow.id) == []
    assert in_flight.poll_attempts == 0  # a first delivery writes nothing before its fetch
    for channel_id in fast:
        done = channel(channel_id)
        assert len(video_ids(channel_id)) == 2
        assert done.cataloged_at is not None and done.last_error is None

    cluster.wait(lambda: polled([slow.id]), "the slow channel's poll", timeout=15)
    assert len(video_ids(slow.id)) == 1
    assert channel(slow.id).poll_attempts == 0


def test_a_failing_channel_is_isolated(cluster: Cluster, feeds: FeedServer) -> None:
    user = make_user()
    healthy_source, broken_source, gone_source = (feeds.add_channel() for _ in range(3))
    for _ in range(3):
        healthy_source.upload(published=time.time() - 86400)
    broken_source.upload()
    gone_source.upload()
    broken_source.status = 500  # transient: retried, claim kept meanwhile
    gone_source.status = 404  # permanent: no retry
    broken = subscribe(user, youtube_url(broken_source.id))
    gone = subscribe(user, youtube_url(gone_source.id))
    healthy = subscribe(user, youtube_url(healthy_source.id))
    cluster.start_worker("poll", threads=4)

    cluster.sender.poll(broken.id, gone.id, healthy.id)
    cluster.wait(
        lambda: (
            polled([healthy.id])
            and channel(broken.id).consecutive_failures
            and channel(gone.id).consecutive_failures
        ),
        "the three polls",
        timeout=60,
    )

    now = time.time()
    ok = channel(healthy.id)
    assert ok.cataloged_at is not None  # the feed and the yt-dlp listing
    assert sorted(video_ids(healthy.id)) == sorted(u[0] for u in healthy_source.uploads)
    assert ok.next_poll_at > now and ok.claimed_until == 0
    assert ok.consecutive_failures == 0 and ok.last_error is None and ok.poll_attempts == 0
    for failed, status in ((channel(broken.id), 500), (channel(gone.id), 404)):
        assert failed.consecutive_failures >= 1, failed.__data__
        assert str(status) in failed.last_error and failed.last_error_at is not None
        assert failed.next_poll_at is not None and failed.next_poll_at > now
        assert failed.last_outcome == "failed" and failed.poll_attempts == 0
        assert video_ids(failed.id) == []
    # Dramatiq retries the 500 (its message waits in poll.DQ) and the claim
    # holds until then, so no tick sends it twice; the 404 is released.
    assert channel(broken.id).claimed_until > now
    assert channel(gone.id).claimed_until == 0
    cluster.wait(lambda: sum(cluster.vhost.queues().get("poll.DQ", (0, 0))) == 1, "the retry")


def test_a_304_does_no_parse_and_no_write_beyond_rescheduling(
    cluster: Cluster, feeds: FeedServer
) -> None:
    source = feeds.add_channel()
    for _ in range(3):
        source.upload(published=time.time() - 86400)
    polled_once = subscribe(make_user(), feeds.feed_url(source.number))
    cluster.start_worker("poll", threads=2)
    cluster.sender.poll(polled_once.id)
    cluster.wait(lambda: polled([polled_once.id]), "the first poll")
    first = channel(polled_once.id)
    assert first.etag and len(video_ids(first.id)) == 3
    before = rows()

    cluster.sender.poll(first.id)
    cluster.wait(lambda: channel(first.id).last_polled_at > first.last_polled_at, "the second poll")

    second = channel(first.id)
    assert feeds.hits[feed_path(source.id)] == 2
    # "not_modified" is only ever written by the 304 branch, which returns
    # before the scan and the parse.
    assert second.last_outcome == "not_modified"
    assert rows() == before
    changed = {
        name
        for name, value in second.__data__.items()
        if first.__data__.get(name) != value and name not in RESCHEDULING
    }
    assert changed == set()
    assert second.next_poll_at > time.time() and second.claimed_until == 0


def test_a_poll_killed_mid_message_is_redelivered_without_duplicates(
    cluster: Cluster, feeds: FeedServer
) -> None:
    source = feeds.add_channel()
    for _ in range(20):  # more than the feed's 15: the rest comes from the yt-dlp listing
        source.upload(published=time.time() - 86400)
    source.delay = 3.0
    subscribed = subscribe(make_user(), youtube_url(source.id))
    doomed = cluster.start_worker("poll", threads=4)

    cluster.sender.poll(subscribed.id)
    cluster.wait(lambda: feeds.hits.get(feed_path(source.id)), "the worker to fetch the feed")
    doomed.kill()  # the whole process tree, with the message unacknowledged
    assert counts() == {"videos": 0, "refs": 0, "events": 0}

    source.delay = 0
    cluster.start_worker("poll", threads=4)
    cluster.wait(lambda: polled([subscribed.id]), "the redelivered poll", timeout=60)

    done = channel(subscribed.id)
    stored = video_ids(subscribed.id)
    assert sorted(stored) == sorted(u[0] for u in source.uploads)  # each exactly once
    assert counts() == {"videos": 20, "refs": 20, "events": 1}
    assert Event.get().kind == CATALOGED
    assert done.poll_attempts == 0 and done.consecutive_failures == 0
    assert done.cataloged_at is not None and done.claimed_until == 0
    assert feeds.hits[feed_path(source.id)] == 2  # one fetch per delivery
    cluster.wait(lambda: drained(cluster), "the redelivered message to be acknowledged")


def test_a_poll_that_keeps_killing_its_worker_is_given_up(
    cluster: Cluster, feeds: FeedServer
) -> None:
    # Dramatiq does not count a redelivery after SIGKILL as a retry: without
    # the attempt counter in the database this message would loop forever.
    source = feeds.add_channel()
    source.upload()
    source.delay = 30.0  # every delivery hangs in the fetch until its worker dies
    poisoned = subscribe(make_user(), youtube_url(source.id))
    cluster.sender.poll(poisoned.id)

    for attempt in range(1, MAX_KILLED_POLLS + 1):
        worker = cluster.start_worker("poll", threads=1)
        cluster.wait(
            lambda n=attempt: feeds.hits.get(feed_path(source.id), 0) >= n,
            f"delivery {attempt} to fetch the feed",
        )
        # Redeliveries are counted before they fetch; the first delivery is not.
        assert channel(poisoned.id).poll_attempts == attempt - 1
        worker.kill()

    last = cluster.start_worker("poll", threads=1)
    given_up = cluster.wait(
        lambda: (c := channel(poisoned.id)).last_outcome == "failed" and c,
        "the poll to be given up",
    )
    cluster.wait(lambda: drained(cluster), "the message to be acknowledged, not redelivered")

    assert "stopped its worker" in given_up.last_error
    assert given_up.poll_attempts == 0 and given_up.consecutive_failures == 1
    assert given_up.next_poll_at > time.time() and given_up.claimed_until == 0
    assert feeds.hits[feed_path(source.id)] == MAX_KILLED_POLLS  # the last delivery did not fetch
    assert video_ids(poisoned.id) == []
    assert f"poll channel={poisoned.id} url=" in last.text()
    assert "failed (the poll stopped its worker" in last.text()


def test_a_tick_through_rabbitmq_polls_each_due_channel_once(
    cluster: Cluster, feeds: FeedServer
) -> None:
    user = make_user()
    due_sources = [feeds.add_channel() for _ in range(4)]
    later_sources = [feeds.add_channel() for _ in range(2)]
    for source in due_sources + later_sources:
        source.upload(published=time.time() - 86400)
    due = [subscribe(user, youtube_url(s.id)).id for s in due_sources]
    later = [subscribe(user, youtube_url(s.id)).id for s in later_sources]
    Channel.update(next_poll_at=time.time() + 3600).where(Channel.id.in_(later)).execute()
    worker = cluster.start_worker("poll", "tick", threads=4)

    out = cluster.tubepoller("poll", "--all", "--due-only").stdout
    assert "queued" in out
    cluster.wait(lambda: polled(due) == len(due), "every due channel's poll", timeout=60)
    cluster.wait(lambda: drained(cluster), "the poll queue to drain")

    assert "tick: 4 polls enqueued" in worker.text()
    for source in due_sources:
        assert hits_of(feeds.hits, [feed_path(source.id), catalog_path(source.id)]) == {
            feed_path(source.id): 1,
            catalog_path(source.id): 1,
        }
    for source in later_sources:
        assert feed_path(source.id) not in feeds.hits
    now = time.time()
    for channel_id in due:
        done = channel(channel_id)
        assert done.claimed_until == 0 and done.next_poll_at > now
        assert done.cataloged_at is not None and len(video_ids(channel_id)) == 1
    assert polled(later) == 0
