"""One host's budget, shared by every worker process: polls spread to its rate."""

from __future__ import annotations

import time

import pytest

from poller.models import Channel
from tests.support.cluster import BOTH_DATABASES, Cluster
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.slow,
    pytest.mark.usefixtures("conn"),
    BOTH_DATABASES,
]

RATE = 5.0  # requests per second to the feed server's host


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    return {"TUBEPOLLER_HOST_RATE": str(RATE)}


def test_two_workers_poll_one_host_no_faster_than_its_budget(
    cluster: Cluster, feeds: FeedServer
) -> None:
    user = make_user()
    ids = []
    for _ in range(20):
        source = feeds.add_channel()
        source.upload(published=time.time() - 86400)
        ids.append(subscribe(user, f"https://www.youtube.com/channel/{source.id}").id)
    # Cataloged already: each poll is one feed request, so polls count requests.
    Channel.update(cataloged_at=time.time(), claimed_until=0).execute()
    cluster.start_worker("poll", "tick", threads=4)
    cluster.start_worker("poll", "tick", threads=4)

    cluster.tubepoller("poll", "--all")
    cluster.wait(
        lambda: Channel.select().where(Channel.last_polled_at.is_null(False)).count() == 20,
        "every channel polled",
        timeout=60,
    )
    times = sorted(c.last_polled_at for c in Channel.select())
    spread = times[-1] - times[0]
    print(f"20 polls of one host at {RATE:g}/s took {spread:.2f} s")
    # 20 slots 0.2 s apart: the last starts 3.8 s after the first (less a
    # little for Dramatiq's delay timer), never all at once.
    assert spread >= (len(times) - 1) / RATE - 0.5
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 5 / RATE - 0.5  # no burst of 6 in a second
    assert all(c.consecutive_failures == 0 for c in Channel.select())
