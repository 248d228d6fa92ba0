"""A poll and its host, inline against the fake YouTube: pauses, probes, bursts, outages."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from poller import host_health, host_store, pipeline
from poller.models import NEW_EPISODE, Channel, Event, Host, Video
from tests.support.fakeyoutube import (
    BOT_CHECK,
    FORBIDDEN,
    NORMAL,
    NOT_FOUND,
    RATE_LIMITED,
    FakeYouTube,
)
from tests.support.rows import make_user, subscribe

pytestmark = pytest.mark.usefixtures("conn")


@pytest.fixture
def feeds() -> Iterator[FakeYouTube]:
    server = FakeYouTube()
    yield server
    server.stop()


def channels_of(feeds: FakeYouTube, count: int) -> list[Channel]:
    user = make_user()
    out = []
    for _ in range(count):
        source = feeds.add_channel()
        source.upload(published=time.time() - 86400)
        out.append(subscribe(user, f"https://www.youtube.com/channel/{source.id}"))
    return out


def poll(channel: Channel, settings, at: float, probe: str | None = None) -> pipeline.PollResult:
    return pipeline.poll_channel(channel.id, at, settings, rng=lambda: 0.5, probe=probe)


def row(channel: Channel) -> Channel:
    return Channel.get_by_id(channel.id)


def host() -> Host:
    (only,) = Host.select()
    return only


def test_a_bot_check_page_pauses_the_host_and_defers_its_channels(
    feeds: FakeYouTube, settings
) -> None:
    first, second = channels_of(feeds, 2)
    now = time.time()
    feeds.set_mode(BOT_CHECK)

    result = poll(first, settings, now)

    assert result.outcome == pipeline.DEFERRED and not result.transient
    paused = host()
    assert paused.pause_reason.startswith("bot_check") and paused.paused_until >= now + 900
    stored = row(first)
    assert stored.consecutive_failures == 0 and stored.last_outcome == "deferred"
    assert stored.next_poll_at == paused.paused_until + 30  # the jitter's half minute
    assert stored.claimed_until == 0
    # Another channel of the host: deferred without a request.
    assert poll(second, settings, now + 1).outcome == pipeline.DEFERRED
    assert feeds.mode_counts[BOT_CHECK] == 1
    assert row(second).consecutive_failures == 0


def test_the_probe_doubles_a_pause_that_persists_and_ends_one_that_does_not(
    feeds: FakeYouTube, settings
) -> None:
    (channel,) = channels_of(feeds, 1)
    now = time.time()
    with feeds.mode(RATE_LIMITED, retry_after=5):
        poll(channel, settings, now)
        first = host()
        assert first.pause_reason.startswith("rate_limited") and first.pause_level == 0
        later = first.paused_until + 1
        reservation = host_store.reserve(first.name, 1, 1000, later)
        assert reservation.probe
        assert poll(channel, settings, later, reservation.token).outcome == pipeline.DEFERRED
    doubled = host()
    assert doubled.pause_level == 1 and doubled.paused_until >= later + 1800
    after = doubled.paused_until + 1
    reservation = host_store.reserve(doubled.name, 1, 1000, after)
    assert poll(channel, settings, after, reservation.token).outcome != pipeline.DEFERRED
    cleared = host()
    assert cleared.paused_until is None and cleared.pause_level == 0
    assert row(channel).consecutive_failures == 0


def test_a_403_is_the_channels_until_a_burst_of_them_pauses_the_host(
    feeds: FakeYouTube, settings
) -> None:
    channels = channels_of(feeds, 5)
    now = time.time()
    feeds.set_mode(FORBIDDEN)
    results = [poll(c, settings, now + i) for i, c in enumerate(channels)]
    assert [r.outcome for r in results] == ["failed"] * 4 + ["deferred"]
    assert host().pause_reason.startswith("forbidden")
    assert [row(c).consecutive_failures for c in channels] == [1, 1, 1, 1, 0]


def test_a_404_storm_marks_the_host_degraded_and_its_channels_keep_their_cadence(
    feeds: FakeYouTube, settings
) -> None:
    channels = channels_of(feeds, 6)
    now = time.time()
    for channel in channels:
        assert poll(channel, settings, now).outcome != "failed"
    feeds.set_mode(NOT_FOUND)
    for channel in channels:
        assert poll(channel, settings, now + 60).outcome == "failed"
    # A 404 on channels that were fine an hour ago: charged, not gone.
    assert all(not row(c).last_error.startswith("gone") for c in channels)
    assert host_health.refresh_degraded(now + 61) == [host().name]
    assert host().degraded_since == now + 61

    before = row(channels[0])
    result = poll(channels[0], settings, now + 120)
    after = row(channels[0])
    assert result.outcome == "failed"
    assert after.consecutive_failures == before.consecutive_failures  # not charged
    assert after.next_poll_at == now + 120 + after.interval_s  # its normal cadence

    feeds.set_mode(NORMAL)
    for channel in channels:
        assert poll(channel, settings, now + 300).outcome != "failed"
    assert host_health.refresh_degraded(now + 301) == [host().name]
    assert host().degraded_since is None


def test_in_a_feed_outage_new_uploads_are_found_through_the_listing(
    feeds: FakeYouTube, settings
) -> None:
    channels = channels_of(feeds, 6)
    now = time.time()
    for channel in channels:
        assert poll(channel, settings, now).outcome != "failed"
    feeds.set_mode(NOT_FOUND, feeds_only=True)  # the feeds 404, the channel pages answer
    listed = sum(n for path, n in feeds.hits.items() if path.endswith("/videos"))
    for channel in channels:
        assert poll(channel, settings, now + 60).outcome == "failed"
    # Not degraded yet: each channel's own failure, and no listing tried.
    assert sum(n for path, n in feeds.hits.items() if path.endswith("/videos")) == listed
    assert host_health.refresh_degraded(now + 61) == [host().name]

    source = feeds.by_id[channels[0].external_id]
    source.upload(title="Uploaded during the outage")
    before = row(channels[0])
    result = poll(channels[0], settings, now + 120)

    assert result.outcome == "failed" and len(result.new_video_ids) == 1
    (video,) = Video.select().where(Video.id.in_(result.new_video_ids))
    assert video.title == "Uploaded during the outage" and not video.backfill
    assert Event.select().where(Event.video == video.id, Event.kind == NEW_EPISODE).count() == 1
    after = row(channels[0])
    assert before.consecutive_failures == 1 and after.consecutive_failures == 0  # it is fine
    assert after.last_outcome == "failed"  # the host still counts it among its failing feeds
    again = poll(channels[0], settings, now + 180)
    assert again.new_video_ids == []  # found once


def test_a_404_is_gone_at_once_for_a_channel_never_fine_and_after_days_otherwise(
    feeds: FakeYouTube, settings
) -> None:
    fine, never = channels_of(feeds, 2)
    now = time.time()
    poll(fine, settings, now)
    feeds.set_mode(NOT_FOUND)
    poll(never, settings, now)
    assert row(never).last_error.startswith("gone: HTTP 404")
    poll(fine, settings, now + 86400)
    assert row(fine).last_error.startswith("HTTP 404")
    poll(fine, settings, now + 3 * 86400 + 1)
    assert row(fine).last_error.startswith("gone: HTTP 404")


def test_a_redelivered_poll_of_a_paused_host_is_deferred_too(feeds: FakeYouTube, settings) -> None:
    (channel,) = channels_of(feeds, 1)
    now = time.time()
    host_store.pause(host_store.list_hosts()[0].name, now, "bot_check: test", base=900)

    result = pipeline.poll_channel(channel.id, now, settings, redelivered=True)

    assert result.outcome == pipeline.DEFERRED
    assert sum(feeds.mode_counts.values()) == 0  # no request reached the host
    assert row(channel).poll_attempts == 0 and row(channel).consecutive_failures == 0
