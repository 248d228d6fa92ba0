"""The API end to end: real gunicorn, real RabbitMQ, a `dramatiq` worker process.

subscribe over HTTP → the first poll catalogs the feed → the videos show →
the feed gains an upload → `poll?wait=30` answers `new` with it → the
`new_episode` event arrives.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.gunicorn import serve_api
from tests.support.procs import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


@pytest.fixture
def gunicorn(cluster: Cluster, tmp_path):
    with serve_api(cluster.env, tmp_path / "gunicorn.log") as base:
        yield base


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_subscribe_poll_on_demand_and_hear_of_the_new_upload(
    cluster: Cluster, gunicorn: str, feeds: FeedServer
) -> None:
    cluster.start_worker("poll")
    token = cluster.tubepoller("user", "add", "alice").stdout.splitlines()[-1]
    client = httpx.Client(
        base_url=gunicorn, headers={"Authorization": f"Bearer {token}"}, timeout=70
    )
    source = feeds.add_channel()
    for day in (3, 2):
        source.upload(published=time.time() - 86400 * day)

    created = client.post(
        "/channels",
        json={"url": f"https://www.youtube.com/channel/{source.id}", "mode": "catalog_only"},
    )
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]

    def cataloged() -> bool:
        return client.get(f"/channels/{channel_id}").json()["last_polled_at"] is not None

    wait_for(cataloged, 60, "the first poll through RabbitMQ")
    videos = client.get("/videos").json()["items"]
    assert sorted(v["title"] for v in videos) == [t for _, t, _ in source.uploads]

    new_id = source.upload("A brand new upload")
    answer = client.post(f"/channels/{channel_id}/poll", params={"wait": 30})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "new"
    assert [v["title"] for v in body["videos"]] == ["A brand new upload"]

    events = client.get("/events", params={"after": 0}).json()["items"]
    episodes = [e for e in events if e["kind"] == "new_episode"]
    assert len(episodes) == 1
    assert episodes[0]["video"]["title"] == "A brand new upload"
    assert new_id in episodes[0]["video"]["url"]
