"""What an operator sees in RabbitMQ's management API, as the README describes it."""

from __future__ import annotations

import time
import urllib.parse

import httpx
import pytest

from poller.models import Channel
from tests.support.cluster import Cluster, fail_or_skip
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.usefixtures("conn")]

MANAGEMENT = "http://127.0.0.1:15672/api"


def management_queues(cluster: Cluster) -> dict[str, tuple[int, int]]:
    """Return name → (Ready, Unacked) of every queue of the vhost, as the management UI shows."""
    vhost = urllib.parse.quote(cluster.vhost.name, safe="")
    try:
        answer = httpx.get(
            f"{MANAGEMENT}/queues/{vhost}",
            params={"columns": "name,messages_ready,messages_unacknowledged"},
            auth=("guest", "guest"),
            timeout=10,
        )
    except httpx.HTTPError as exc:
        fail_or_skip(f"the RabbitMQ management API does not answer on {MANAGEMENT}: {exc}")
    answer.raise_for_status()
    return {
        q["name"]: (q.get("messages_ready", 0), q.get("messages_unacknowledged", 0))
        for q in answer.json()
    }


def seen(cluster: Cluster, expected: dict[str, tuple[int, int]], what: str) -> None:
    """Wait until the management API shows these counts (its statistics lag up to 5 s)."""
    cluster.wait(
        lambda: all(management_queues(cluster).get(q) == c for q, c in expected.items()),
        f"the management API to show {what}: {expected}",
        timeout=12,
    )


def test_a_retry_waits_in_poll_dq_unacked_held_by_the_worker(
    cluster: Cluster, feeds: FeedServer
) -> None:
    source = feeds.add_channel()
    source.status = 503  # a transient failure: retried after 15-30 s
    channel_id = subscribe(make_user(), feeds.feed_url(source.number)).id
    worker = cluster.start_worker("poll", "tick", threads=2)
    failed_at = time.time()
    cluster.sender.poll(channel_id)
    cluster.wait(lambda: "Retrying message" in worker.text(), "the poll to fail and be retried")

    # The retry is in poll.DQ, but a worker took it at once and holds it
    # unacknowledged until it is due: Unacked, not Ready.
    seen(
        cluster,
        {"poll": (0, 0), "poll.DQ": (0, 1), "tick": (0, 0), "poll.XQ": (0, 0)},
        "the retry held by the worker",
    )
    assert cluster.vhost.queues()["poll.DQ"] == (0, 1)  # rabbitmqctl agrees, unsampled
    assert time.time() - failed_at < 15, "the retry ran before it could be seen"
    assert Channel.get_by_id(channel_id).consecutive_failures == 1

    # With no worker to hold it, the same retry is Ready in poll.DQ.
    worker.killed = True  # stopped on purpose
    worker.terminate()
    worker.reap(15)
    assert cluster.vhost.queues()["poll.DQ"] == (1, 0)
    seen(cluster, {"poll.DQ": (1, 0)}, "the retry back in poll.DQ, Ready")


def test_the_backlog_is_ready_in_poll_and_a_tick_ready_in_tick(cluster: Cluster) -> None:
    # No worker yet: what the scheduler and the API sent waits, Ready.
    cluster.tubepoller("poll", "--all")  # a tick on its own queue
    cluster.sender.poll(10**9, 10**9 + 1, 10**9 + 2)  # polls of channels that are gone
    seen(cluster, {"poll": (3, 0), "tick": (1, 0)}, "the backlog")
    cluster.start_worker("poll", "tick", threads=2)
    seen(cluster, {"poll": (0, 0), "tick": (0, 0)}, "both queues drained")
