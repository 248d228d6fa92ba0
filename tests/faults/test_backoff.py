"""A channel that fails for days backs off to the cap and recovers by itself (fake clock)."""

from __future__ import annotations

import time

import pytest

from poller import pipeline
from poller.models import Channel, Video
from tests.faults.history import check_history
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("conn")]

DAY = 86400.0


def test_days_of_failure_back_off_to_the_cap_then_recover(feeds: FeedServer, settings) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 3 * DAY)
    channel_id = subscribe(make_user(), feeds.feed_url(source.number)).id
    now = time.time()
    assert pipeline.poll_channel(channel_id, now, settings).outcome == pipeline.UNCHANGED

    source.status = 503  # the feed breaks, for days
    failed_at = now
    waits = []
    while now - failed_at < 5 * DAY:
        now = Channel.get_by_id(channel_id).next_poll_at  # the poll comes when it is due
        result = pipeline.poll_channel(channel_id, now, settings)
        assert result.outcome == pipeline.POLL_FAILED and "503" in (result.error or "")
        after = Channel.get_by_id(channel_id)
        assert after.claimed_until == 0 and after.next_poll_at is not None
        waits.append(after.next_poll_at - now)

    failures = Channel.get_by_id(channel_id).consecutive_failures
    assert failures == len(waits) and failures < 30  # backing off: few polls in 5 days
    assert waits[0] <= settings.min_interval * 1.2
    cap = settings.max_interval
    assert max(waits) <= cap
    assert all(w >= cap * 0.8 for w in waits[-3:]), waits  # at the cap, less 20 % jitter at most
    # Each wait roughly doubles until the cap (±20 % jitter).
    for shorter, longer in zip(waits, waits[1:], strict=False):
        assert longer >= min(shorter * 2 * 0.8 / 1.2, cap * 0.8) - 1, waits

    source.status = 200  # the feed comes back; nobody touches the channel
    new = source.upload()
    now = Channel.get_by_id(channel_id).next_poll_at
    result = pipeline.poll_channel(channel_id, now, settings)
    assert result.outcome == pipeline.NEW
    healed = Channel.get_by_id(channel_id)
    assert healed.consecutive_failures == 0 and healed.last_error is None
    assert healed.next_poll_at - now < settings.max_interval  # the cadence reset
    assert healed.claimed_until == 0 and healed.poll_attempts == 0
    assert Video.select().where(Video.external_id == new).count() == 1
    check_history(feeds, {channel_id: source.number}).assert_clean()  # and the older ones
