"""WebSub push end to end: a fake hub on loopback, real gunicorn, real worker processes.

subscribe → the first poll → the tick asks the hub → the hub verifies at the
callback (gunicorn) → a forged push is dropped → a signed push sends a poll
→ the `new_episode` event (timed) → the lease is renewed before it ends →
unsubscribe. Beside it: a hub answering 503 is asked again with backoff while
polls go on, and verifications we never asked for are refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from poller import websub
from tests.support.cluster import BOTH_DATABASES, Cluster
from tests.support.fakehub import FakeHub, push_body
from tests.support.feedserver import FeedServer
from tests.support.gunicorn import free_port, serve_api

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

LEASE_S = 8  # the fake hub's lease: renewed at half of it, 4 s after each verification
PUSH_TO_EVENT_S = 5.0  # the target of issue 12


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub(lease_s=LEASE_S)
    yield server
    server.stop()


@pytest.fixture
def api_port() -> int:
    return free_port()


@pytest.fixture
def worker_extra_env(hub: FakeHub, api_port: int) -> dict[str, str]:
    return {
        "TUBEPOLLER_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "TUBEPOLLER_WEBSUB_HUB": hub.url,
        "TUBEPOLLER_WEBSUB_RETRY": "1",
    }


@pytest.fixture
def api(cluster: Cluster, api_port: int, tmp_path: Path) -> Iterator[str]:
    with serve_api(cluster.env, tmp_path / "gunicorn.log", api_port) as base:
        yield base


def subscribed_client(cluster: Cluster, api: str, feeds: FeedServer) -> tuple[httpx.Client, str]:
    """Add alice, subscribe her to a fresh channel and wait for its first poll."""
    token = cluster.tubepoller("user", "add", "alice").stdout.splitlines()[-1]
    client = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    created = client.post("/channels", json={"url": f"https://www.youtube.com/channel/{source.id}"})
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    cluster.wait(
        lambda: client.get(f"/channels/{channel_id}").json()["last_polled_at"], "the first poll", 60
    )
    return client, source.id


def tick(cluster: Cluster) -> None:
    cluster.sender.send("tick", "tick")  # what periodiq sends every minute


def channel_of(client: httpx.Client) -> dict:
    (channel,) = client.get("/channels").json()["items"]
    return channel


@BOTH_DATABASES
def test_a_signed_push_brings_the_event_within_5_s_and_the_lease_is_renewed(
    cluster: Cluster, api: str, feeds: FeedServer, hub: FakeHub, api_port: int
) -> None:
    cluster.start_worker("poll", "tick")
    client, source_id = subscribed_client(cluster, api, feeds)
    topic = websub.youtube_links(source_id, feeds.base, hub.url).topic
    assert channel_of(client)["push"]["state"] == "pending"  # the first poll made it

    tick(cluster)
    cluster.wait(lambda: hub.verified(topic), "the hub to verify the subscription")
    (asked,) = hub.requests_for(topic)
    assert asked["hub.mode"] == "subscribe" and asked["hub.lease_seconds"] == "432000"
    assert asked["hub.callback"].startswith(f"http://127.0.0.1:{api_port}/websub/")
    assert len(asked["hub.secret"]) >= 24
    push = cluster.wait(
        lambda: channel_of(client)["push"]["lease_until"] and channel_of(client)["push"],
        "the lease",
    )
    assert push["state"] == "subscribed" and push["requested"] is None

    # Unknown topics, modes and tokens are refused: only our own request is verified.
    callback = asked["hub.callback"]
    assert hub.verify(callback, "subscribe", topic + "x").status == 404
    assert hub.verify(callback, "unsubscribe", topic).status == 404  # never asked for
    assert hub.verify(callback, "subscribe", topic).status == 404  # verified already: no replay
    assert hub.verify(callback[:-3] + "abc", "subscribe", topic).status == 404

    source = feeds.by_id[source_id]
    events = client.get("/events", params={"after": 0}).json()
    after = events["last_id"]
    hits_before = feeds.hits.get(f"/feeds/videos.xml?channel_id={source_id}", 0)

    # A forged push is answered 2xx and dropped: no poll, no event.
    video_id = source.upload("Pushed upload")
    body = push_body(source_id, video_id, feeds.base)
    assert hub.publish(topic, body, signature="sha1=" + "0" * 40) == 204
    assert hub.publish(topic, body, signature=None) == 204
    late = client.get("/events", params={"after": after, "wait": 3}).json()
    assert late["items"] == []
    assert feeds.hits.get(f"/feeds/videos.xml?channel_id={source_id}", 0) == hits_before
    assert channel_of(client)["push"]["dropped"] == 2

    # A signed push: the poll it sends finds the upload, the event follows.
    started = time.monotonic()
    assert hub.publish(topic, body) == 204
    arrived = client.get("/events", params={"after": after, "wait": 10}).json()
    took = time.monotonic() - started
    print(f"push received → new_episode event: {took:.2f} s")
    assert [(e["kind"], e["video"]["title"]) for e in arrived["items"]] == [
        ("new_episode", "Pushed upload")
    ]
    assert took < PUSH_TO_EVENT_S
    channel = cluster.wait(
        lambda: (c := channel_of(client))["push"]["healthy"] and c, "push to be trusted"
    )
    assert channel["push"]["pushes"] == 1
    # Healthy push keeps a sanity poll, the normal interval stretched (bounded).
    polled = channel["last_polled_at"]
    assert polled is not None and channel["next_poll_at"] > polled
    health = httpx.get(f"{api}/health").json()["push"]
    assert health["enabled"] and health["subscribed"] == 1 and health["healthy"] == 1
    assert health["dropped_pushes"] == 2

    # The lease (8 s, as the hub said) is renewed at its half, before it runs out.
    first = hub.verified(topic)[0]
    deadline = time.monotonic() + 20
    while len(hub.verified(topic)) < 2 and time.monotonic() < deadline:
        tick(cluster)
        time.sleep(0.5)
    renewed = hub.verified(topic)
    assert len(renewed) >= 2, "no renewal within 20 s"
    assert renewed[1].at - first.at < LEASE_S, "renewed after the lease ran out"

    # Nobody follows the channel any more: its push is unsubscribed.
    assert client.delete(f"/channels/{channel['id']}").status_code == 204
    tick(cluster)
    cluster.wait(lambda: hub.verified(topic, "unsubscribe"), "the hub to verify the unsubscribe")
    assert topic not in hub.state.subscribers


def test_a_hub_answering_503_is_asked_again_with_backoff_while_polls_go_on(
    cluster: Cluster, api: str, feeds: FeedServer, hub: FakeHub
) -> None:
    hub.refuse(3, retry_after=1)
    worker = cluster.start_worker("poll", "tick")
    client, source_id = subscribed_client(cluster, api, feeds)
    topic = websub.youtube_links(source_id, feeds.base, hub.url).topic

    tick(cluster)  # one tick: the retries are the actor's own
    cluster.wait(
        lambda: channel_of(client)["push"]["last_error"], "the hub's first refusal", timeout=20
    )
    assert "HTTP 503" in channel_of(client)["push"]["last_error"]
    assert httpx.get(f"{api}/health").json()["push"]["failing"] == 1
    # Polling goes on while the hub refuses.
    channel_id = channel_of(client)["id"]
    polled = client.post(f"/channels/{channel_id}/poll", params={"wait": 20})
    assert polled.status_code == 200 and polled.json()["outcome"] in ("not_modified", "unchanged")

    cluster.wait(lambda: hub.verified(topic), "a subscription after three 503s", timeout=40)
    times = [float(r["at"]) for r in hub.requests_for(topic)]
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    print("hub requests apart (s):", [round(g, 2) for g in gaps])
    # 1 s doubling, ±20 %, never under the hub's Retry-After of 1 s.
    assert gaps[0] >= 0.95 and gaps[2] >= 3.0 and gaps[2] > gaps[0]
    assert "failed subscribe (hub answered HTTP 503)" in worker.text()
    push = channel_of(client)["push"]
    assert push["state"] == "subscribed" and push["last_error"] is None
