"""The actors chained through Dramatiq's in-process broker and a real worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poller import actors
from poller.broker import DOWNLOAD_QUEUE, POLL_QUEUE, TICK_QUEUE
from poller.models import COMPLETE, Channel, Video
from tests.support.feedserver import FeedServer
from tests.support.rows import counts, make_user, subscribe

pytestmark = pytest.mark.usefixtures("conn")


def drain(broker) -> None:
    # Pipeline order: the ticks, polls, then downloads.
    broker.join(TICK_QUEUE, fail_fast=False)
    broker.join(POLL_QUEUE, fail_fast=False)
    broker.join(DOWNLOAD_QUEUE, fail_fast=False)
    broker.join(POLL_QUEUE, fail_fast=False)


def test_a_tick_polls_every_due_channel_once(
    feeds: FeedServer, settings, stub_broker, stub_worker
) -> None:
    user = make_user()
    channels = []
    for _ in range(5):
        source = feeds.add_channel()
        source.upload(published=time.time() - 3600)
        channels.append(subscribe(user, f"{feeds.base}/feeds/videos.xml?channel_id={source.id}"))

    actors.tick.send()
    drain(stub_broker)

    assert counts()["videos"] == 5
    for channel in Channel.select():
        assert channel.last_polled_at is not None
        assert channel.next_poll_at > time.time() and channel.claimed_until == 0
    assert sum(feeds.hits.values()) == 5

    actors.tick.send()  # nothing is due any more
    drain(stub_broker)
    assert sum(feeds.hits.values()) == 5


@pytest.mark.slow
def test_a_wanted_upload_is_downloaded_once_for_all_its_subscribers(
    feeds: FeedServer, settings, stub_broker, stub_worker
) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 3600)
    url = f"https://www.youtube.com/channel/{source.id}"
    channel = subscribe(make_user("alice"), url)
    subscribe(make_user("bob"), url)
    actors.poll_channel.send(channel.id)
    drain(stub_broker)

    new_id = source.upload()
    actors.poll_channel.send(channel.id)
    actors.poll_channel.send(channel.id)  # a duplicate delivery
    drain(stub_broker)

    video = Video.get(Video.external_id == new_id)
    assert video.download_status == COMPLETE
    assert Path(video.download_path).read_bytes()[:4] == b"\x00\x00\x00\x18"
    assert video.download_attempts == 1  # one yt-dlp run, whoever asked
    assert [p.name for p in settings.media_dir.rglob("*") if p.is_file()] == [f"{new_id}.mp4"]


def test_a_transient_failure_is_retried_and_keeps_the_claim(
    feeds: FeedServer, settings, stub_broker, stub_worker
) -> None:
    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), f"{feeds.base}/feeds/videos.xml?channel_id={source.id}")
    source.status = 503

    actors.poll_channel.send_with_options(
        args=(channel.id,), min_backoff=500, max_backoff=1000, max_retries=1
    )
    deadline = time.time() + 5
    while Channel.get_by_id(channel.id).consecutive_failures == 0 and time.time() < deadline:
        time.sleep(0.05)
    failed = Channel.get_by_id(channel.id)
    assert failed.consecutive_failures == 1 and "503" in failed.last_error
    assert failed.claimed_until > time.time()  # the tick leaves it to the retry
    source.status = 200
    drain(stub_broker)

    healed = Channel.get_by_id(channel.id)
    assert healed.consecutive_failures == 0 and healed.claimed_until == 0
    assert counts()["videos"] == 1


def test_a_transient_failure_on_the_last_retry_is_absorbed(
    feeds: FeedServer, settings, stub_broker, stub_worker
) -> None:
    source = feeds.add_channel()
    source.status = 500
    channel = subscribe(make_user(), f"{feeds.base}/feeds/videos.xml?channel_id={source.id}")

    actors.poll_channel.send_with_options(args=(channel.id,), max_retries=0)
    drain(stub_broker)

    stored = Channel.get_by_id(channel.id)
    assert stored.consecutive_failures == 1 and stored.claimed_until == 0
    assert stored.next_poll_at > time.time()
    assert stub_broker.dead_letters == []  # nothing for the dead-letter queue


def test_an_unexpected_exception_is_recorded_and_never_dead_letters(
    feeds: FeedServer, settings, stub_broker, stub_worker, monkeypatch
) -> None:
    from poller import pipeline

    source = feeds.add_channel()
    source.upload()
    channel = subscribe(make_user(), f"{feeds.base}/feeds/videos.xml?channel_id={source.id}")

    def broken(*args, **kwargs):
        raise LookupError("unknown encoding: x-bogus")

    monkeypatch.setattr(pipeline, "parse_feed", broken)
    actors.poll_channel.send(channel.id)
    drain(stub_broker)

    stored = Channel.get_by_id(channel.id)
    assert stored.last_error == "internal error: LookupError: unknown encoding: x-bogus"
    assert stored.consecutive_failures == 1 and stored.claimed_until == 0
    assert stored.next_poll_at > time.time()
    assert stub_broker.dead_letters == []
    assert sum(feeds.hits.values()) == 1  # no Dramatiq retry
