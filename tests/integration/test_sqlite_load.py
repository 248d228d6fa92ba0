"""The default database under load: 600 subscriptions over HTTP while the first polls run.

gunicorn as shipped (two asgi workers) takes subscriptions 8 at a time while
two `dramatiq` worker processes poll them, YouTube channels among them
listing their catalogs with yt-dlp: every process writes the one SQLite file.
No request may fail, no message may die on "database is locked", and every
subscription's first poll must be queued.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from poller.models import Channel
from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.usefixtures("conn")]

FEEDS, YOUTUBE = 570, 30  # 600 subscriptions; the YouTube ones list a catalog first
AT_ONCE = 8


@pytest.fixture
def gunicorn_workers() -> int:
    return 2  # api.gunicorn_conf's default: two processes writing beside the workers


def test_600_subscriptions_while_the_first_polls_run_lose_nothing(
    cluster: Cluster, gunicorn: str, feeds: FeedServer, tmp_path: Path
) -> None:
    urls = []
    for n in range(FEEDS + YOUTUBE):
        source = feeds.add_channel()
        for day in (3, 2, 1):
            source.upload(published=time.time() - 86400 * day)
        youtube = n % ((FEEDS + YOUTUBE) // YOUTUBE) == 0
        urls.append(
            f"https://www.youtube.com/channel/{source.id}"
            if youtube
            else feeds.feed_url(source.number)
        )
    cluster.start_worker("poll", "tick", processes=2, threads=8)
    token = cluster.tubepoller("user", "add", "alice").stdout.splitlines()[-1]
    client = httpx.Client(
        base_url=gunicorn, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )

    def subscribe(url: str) -> tuple[int, dict, float]:
        started = time.perf_counter()
        answer = client.post("/channels", json={"url": url})
        return answer.status_code, answer.json(), time.perf_counter() - started

    started = time.time()
    with ThreadPoolExecutor(AT_ONCE) as pool:
        answers = list(pool.map(subscribe, urls))
    took = time.time() - started

    failed = [(status, body) for status, body, _ in answers if status != 201]
    assert not failed, failed[:5]
    unqueued = [body["id"] for _, body, _ in answers if not body["poll_queued"]]
    assert not unqueued, f"{len(unqueued)} first polls not queued: {unqueued[:10]}"
    ids = [body["id"] for _, body, _ in answers]
    assert len(set(ids)) == len(urls)

    def all_polled() -> bool:
        done = Channel.select().where(
            Channel.id.in_(ids) & Channel.last_polled_at.is_null(False)
        )
        return done.count() == len(ids)

    cluster.wait(all_polled, "every subscription's first poll", timeout=240)
    failing = Channel.select(Channel.id, Channel.last_error).where(
        Channel.id.in_(ids) & Channel.last_error.is_null(False)
    )
    assert not list(failing.tuples()), list(failing.tuples())[:5]
    logs = cluster.report() + (tmp_path / "gunicorn.log").read_text()
    for trouble in ("Traceback", "database is locked", "OperationalError"):
        assert trouble not in logs, logs[-5000:]
    latencies = sorted(seconds for _, _, seconds in answers)
    print(
        f"{len(urls)} subscriptions in {took:.1f} s, {AT_ONCE} at a time: "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms; "
        f"all polled after {time.time() - started:.1f} s"
    )
