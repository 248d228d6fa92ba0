"""/metrics: Prometheus text, no token, the fleet's gauges beside the counters."""

from __future__ import annotations

import falcon.testing

from poller import metrics
from tests.api.support import Caller


def test_metrics_need_no_token_and_count_polls_and_channels(
    client: falcon.testing.TestClient, alice: Caller, feed
) -> None:
    alice.subscribe(feed.url)
    metrics.poll_done("unchanged", 0.02, 0)
    metrics.poll_done("new", 0.3, 2)

    answer = client.simulate_get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert any(line.startswith('tubepoller_polls_total{outcome="new"}') for line in lines)
    assert any(line.startswith("tubepoller_new_videos_total") for line in lines)
    assert 'tubepoller_channels{health="ok"} 1.0' in lines
    assert 'tubepoller_channels{health="failing"} 0.0' in lines
    assert any(line.startswith("tubepoller_poll_seconds_bucket") for line in lines)


def test_paused_hosts_trusted_push_and_notifications_have_their_series(
    client: falcon.testing.TestClient, alice: Caller, feed
) -> None:
    import time

    from poller import host_store

    alice.subscribe(feed.url)
    host_store.pause("www.youtube.com", time.time(), "bot_check: Sign in", base=900)
    host_store.ensure_host("127.0.0.1:9", time.time())
    metrics.notification_done("sent")

    lines = client.simulate_get("/metrics").text.splitlines()

    assert 'tubepoller_hosts{state="paused"} 1.0' in lines
    assert 'tubepoller_hosts{state="degraded"} 0.0' in lines
    assert any(line.startswith('tubepoller_hosts{state="ok"}') for line in lines)
    assert 'tubepoller_channels{health="push"} 0.0' in lines
    assert any(line.startswith('tubepoller_notifications_total{status="sent"}') for line in lines)
