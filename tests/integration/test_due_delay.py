"""A poll due between two ticks goes at its due time, not at the next tick."""

from __future__ import annotations

import time

import pytest

from poller.models import Channel
from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.usefixtures("conn")]

DUE_IN = 20.0


def test_a_channel_due_in_20_s_is_polled_20_s_after_the_tick(
    cluster: Cluster, feeds: FeedServer
) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    channel_id = subscribe(make_user(), f"https://www.youtube.com/channel/{source.id}").id
    Channel.update(cataloged_at=time.time(), claimed_until=0).execute()
    worker = cluster.start_worker("poll", "tick", threads=2)
    due = time.time() + DUE_IN
    Channel.update(next_poll_at=due).where(Channel.id == channel_id).execute()

    cluster.sender.send("tick", "tick")  # the message periodiq sends every minute
    cluster.wait(
        lambda: Channel.get_by_id(channel_id).claimed_until > time.time(),
        "the tick to claim the channel due before the next tick",
        timeout=15,
    )
    assert Channel.get_by_id(channel_id).last_polled_at is None  # claimed, not yet polled
    cluster.wait(
        lambda: Channel.get_by_id(channel_id).last_polled_at is not None,
        "the channel's poll at its due time",
        timeout=DUE_IN + 30,
    )
    polled = Channel.get_by_id(channel_id)
    late = polled.last_polled_at - due
    print(f"polled {late:+.2f} s after its due time ({DUE_IN:g} s after the tick)")
    assert late >= -0.5, "polled before it was due"
    assert late < 5, f"polled {late:.1f} s late: it waited for something other than its due time"
    assert polled.consecutive_failures == 0
    assert "tick: 1 polls enqueued" in worker.text()
