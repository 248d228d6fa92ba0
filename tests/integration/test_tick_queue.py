"""The tick has a queue of its own: it never waits behind a backlog of polls."""

from __future__ import annotations

import time

import pika
import pytest

from poller.models import Channel
from tests.support.cluster import Cluster
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.usefixtures("conn")]

BACKLOG = 3000
NO_SUCH_CHANNEL = 10**9  # polls of missing channels are skipped after one query


def ready(cluster: Cluster, queue: str) -> int:
    """Return the messages ready in `queue` now (a passive declare is exact, not sampled)."""
    connection = pika.BlockingConnection(pika.URLParameters(cluster.vhost.url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_a_tick_is_processed_before_a_poll_backlog_drains(cluster: Cluster, feeds) -> None:
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    channel_id = subscribe(make_user(), feeds.feed_url(source.number)).id
    assert Channel.get_by_id(channel_id).claimed_until < time.time()  # due, unclaimed
    for offset in range(BACKLOG):
        cluster.sender.send("poll", "poll_channel", NO_SUCH_CHANNEL + offset)
    worker = cluster.start_worker("poll", "tick", threads=2)

    cluster.wait(lambda: ready(cluster, "poll") < BACKLOG, "the worker to be busy with the backlog")
    sent = time.monotonic()
    cluster.sender.send("tick", "tick")  # the message periodiq sends every minute
    cluster.wait(
        lambda: Channel.get_by_id(channel_id).claimed_until > time.time(),
        "the tick to claim the due channel",
        timeout=60,
    )
    took = time.monotonic() - sent
    left = ready(cluster, "poll")
    print(f"tick processed {took:.2f} s after it was sent; {left} of {BACKLOG} polls still ready")
    assert left >= BACKLOG // 2, f"the tick waited for the backlog: {left} polls left, {took:.1f} s"
    # Its own poll went to the back of the poll queue, and it is done when the backlog is.
    cluster.wait(
        lambda: Channel.get_by_id(channel_id).last_polled_at is not None,
        "the claimed channel's poll behind the backlog",
        timeout=240,
    )
    assert "tick: 1 polls enqueued" in worker.text()
