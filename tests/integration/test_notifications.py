"""Notifications end to end: gunicorn, real worker processes on RabbitMQ, json:// webhooks.

A user adds three json:// targets on a loopback receiver over the API: one
that answers, one that answers 500 once, one that hangs past the send timeout
and then answers 500. A new upload is polled and downloaded by the workers;
the first target hears of the episode and of the file, the second gets the
episode once after a retry, and the third, still failing, delays neither.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from poller.models import COMPLETE, Video
from tests.support.cluster import BOTH_DATABASES, Cluster
from tests.support.feedserver import FeedServer
from tests.support.procs import wait_for
from tests.support.webhook import WebhookReceiver

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.usefixtures("conn")]

SEND_TIMEOUT_S = 2  # TUBEPOLLER_NOTIFY_TIMEOUT of the workers
HANG_S = 6  # how long the broken target holds each answer: past the send timeout


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    return {"TUBEPOLLER_NOTIFY_BACKOFF": "0.5", "TUBEPOLLER_NOTIFY_TIMEOUT": str(SEND_TIMEOUT_S)}


def _iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()


@BOTH_DATABASES
def test_json_targets_hear_of_episodes_and_files_retried_and_apart(
    cluster: Cluster,
    gunicorn: str,  # noqa: F811 (the fixture imported above)
    feeds: FeedServer,
    hooks: WebhookReceiver,
) -> None:
    cluster.start_worker("poll", threads=2)
    cluster.start_worker("downloads", threads=1)
    notifier = cluster.start_worker("notify", threads=4)
    token = cluster.tubepoller("user", "add", "alice").stdout.splitlines()[-1]
    client = httpx.Client(
        base_url=gunicorn, headers={"Authorization": f"Bearer {token}"}, timeout=70
    )

    hooks.fail_first["/flaky"] = 1
    hooks.always_fail.add("/broken")
    hooks.delay["/broken"] = HANG_S
    targets = {}
    for path, events in (
        ("/good", ["new_episode", "downloaded"]),
        ("/flaky", ["new_episode"]),
        ("/broken", ["new_episode"]),
    ):
        added = client.post("/notifications", json={"url": hooks.url(path), "events": events})
        assert added.status_code == 201, added.text
        targets[path] = added.json()["id"]

    source = feeds.add_channel()
    source.upload(published=time.time() - 86400)
    created = client.post("/channels", json={"url": f"https://www.youtube.com/channel/{source.id}"})
    assert created.status_code == 201, created.text
    channel = created.json()
    wait_for(
        lambda: client.get(f"/channels/{channel['id']}").json()["last_polled_at"], 60, "cataloged"
    )
    assert hooks.received == []  # the back catalog is announced to nobody

    new_id = source.upload("A brand new upload")
    answer = client.post(f"/channels/{channel['id']}/poll", params={"wait": 30})
    assert answer.status_code == 200 and answer.json()["outcome"] == "new", answer.text
    [video] = answer.json()["videos"]

    # The good target hears of the episode at once, while the broken one hangs.
    [episode] = cluster.wait(lambda: hooks.at("/good"), "the good target's new_episode", 20)
    [event] = [e for e in client.get("/events").json()["items"] if e["kind"] == "new_episode"]
    assert episode.at - _iso(event["created_at"]) < HANG_S - 1
    assert episode.body["title"] == "New episode: A brand new upload"
    title = client.get(f"/channels/{channel['id']}").json()["title"]
    assert title and episode.body["message"].splitlines() == [
        f"Channel: {title}",
        "Video: A brand new upload",
        f"URL: {video['url']}",
        f"Published: {video['published_at']}",
    ]
    assert new_id in video["url"]

    # The flaky one answered 500 once, was retried and got it once.
    cluster.wait(lambda: hooks.at("/flaky"), "the flaky target's retry", 30)
    assert [r.status for r in hooks.at("/flaky", status=None)] == [500, 200]
    assert hooks.at("/flaky")[0].body == episode.body

    # The download completes: an event in /api/events, and the good target hears of the file.
    done = cluster.wait(
        lambda: Video.get_or_none((Video.id == video["id"]) & (Video.download_status == COMPLETE)),
        "the download",
        90,
    )
    cluster.wait(lambda: len(hooks.at("/good")) == 2, "the good target's downloaded", 30)
    downloaded = hooks.at("/good")[1].body
    assert downloaded["title"] == "Downloaded: A brand new upload"
    assert f"File: {done.download_path}" in downloaded["message"].splitlines()
    events = client.get("/events").json()["items"]
    [file_event] = [e for e in events if e["kind"] == "downloaded"]
    assert file_event["payload"] == {"path": done.download_path}
    assert file_event["video_id"] == video["id"]

    # Every delivery is recorded, visible per target; the broken one once its first
    # attempt has timed out.
    def listing() -> dict[int, dict]:
        listed = {t["id"]: t for t in client.get("/notifications").json()["items"]}
        return listed if listed[targets["/broken"]]["deliveries"][0]["reason"] else {}

    listed = cluster.wait(listing, "the broken target's first failure", 30)
    good = listed[targets["/good"]]["deliveries"]
    assert [(d["event"], d["status"], d["attempts"]) for d in good] == [
        ("downloaded", "sent", 1),
        ("new_episode", "sent", 1),
    ]
    [flaky] = listed[targets["/flaky"]]["deliveries"]
    assert (flaky["status"], flaky["attempts"], flaky["reason"]) == ("sent", 2, None)
    [broken] = listed[targets["/broken"]]["deliveries"]
    assert broken["status"] == "pending" and broken["attempts"] >= 1
    assert broken["reason"] and "127.0.0.1" in broken["reason"], broken
    assert f"notify delivery={broken['id']} pending" in notifier.text()
