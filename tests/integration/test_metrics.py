"""/metrics on a real gunicorn adds up what the dramatiq worker processes counted."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.procs import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def test_gunicorn_serves_the_workers_counters_and_the_queue_depths(
    cluster: Cluster,
    gunicorn: str,  # noqa: F811
    feeds: FeedServer,
) -> None:
    cluster.start_worker("poll")
    token = cluster.tubepoller("user", "add", "alice").stdout.splitlines()[-1]
    api = httpx.Client(base_url=gunicorn, headers={"Authorization": f"Bearer {token}"})
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    created = api.post("/channels", json={"url": f"https://www.youtube.com/channel/{source.id}"})
    channel_id = created.json()["id"]
    wait_for(
        lambda: api.get(f"/channels/{channel_id}").json()["last_polled_at"] is not None,
        60,
        "the first poll through RabbitMQ",
    )
    scrape = gunicorn.removesuffix("/api") + "/metrics"

    def counted() -> str | None:
        text = httpx.get(scrape, timeout=5).text  # no token: Prometheus sends none
        return text if 'tubepoller_polls_total{outcome="unchanged"} 1.0' in text else None

    text = wait_for(counted, 30, "the worker's poll in gunicorn's /metrics")
    lines = text.splitlines()
    assert 'tubepoller_channels{health="ok"} 1.0' in lines
    assert 'tubepoller_queue_messages{queue="poll"} 0.0' in lines
    assert any(line.startswith('tubepoller_queue_messages{queue="poll.XQ"}') for line in lines)
