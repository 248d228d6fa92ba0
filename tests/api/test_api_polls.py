"""Polls on demand: through the claim, never twice; ?wait reports the outcome."""

from __future__ import annotations

import time

import pytest
from dramatiq import Worker
from dramatiq.errors import ConnectionClosed

from poller.broker import POLL_QUEUE
from poller.models import Channel, Event
from tests.api.support import Caller, Feed, queued


def wait_for_first_poll(channel_id: int, timeout: float = 10) -> Channel:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        channel = Channel.get_by_id(channel_id)
        if channel.last_polled_at is not None:
            return channel
        time.sleep(0.05)
    raise AssertionError(f"channel {channel_id} was never polled")


def test_poll_all_queues_each_of_the_callers_channels_once(
    alice: Caller, bob: Caller, feed: Feed, feeds, broker
) -> None:
    mine = [alice.subscribe(feed.url), alice.subscribe(Feed(feeds, "two").url)]
    bob.subscribe(Feed(feeds, "bobs").url)
    broker.flush_all()
    Channel.update(claimed_until=0).execute()  # as if the first polls had run

    first = alice.post("/api/channels/poll")
    again = alice.post("/api/channels/poll")

    assert (first.status_code, first.json) == (202, {"enqueued": 2})
    assert (again.status_code, again.json) == (202, {"enqueued": 0})  # already queued
    assert sorted(queued(broker)) == [(mine[0],), (mine[1],)]


def test_an_admin_polls_every_channel_with_scope_all(
    alice: Caller, bob: Caller, admin: Caller, feed: Feed, feeds, broker
) -> None:
    alice.subscribe(feed.url)
    bob.subscribe(Feed(feeds, "bobs").url)
    broker.flush_all()
    Channel.update(claimed_until=0).execute()

    assert alice.post("/api/channels/poll", params={"scope": "all"}).status_code == 403
    assert admin.post("/api/channels/poll").json == {"enqueued": 0}
    assert admin.post("/api/channels/poll", params={"scope": "all"}).json == {"enqueued": 2}


def test_poll_all_is_a_503_when_the_broker_is_down(
    alice: Caller, feed: Feed, broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poller import actors

    channel_id = alice.subscribe(feed.url)
    Channel.update(claimed_until=0).execute()

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionClosed(OSError("connection refused"))

    monkeypatch.setattr(actors.poll_channel, "send", refuse)
    result = alice.post("/api/channels/poll")

    assert result.status_code == 503 and "broker" in result.json["description"]
    assert Channel.get_by_id(channel_id).claimed_until == 0  # released for the next tick


def test_polling_one_channel_queues_it_once(alice: Caller, feed: Feed, broker) -> None:
    channel_id = alice.subscribe(feed.url)  # its first poll is queued

    result = alice.post(f"/api/channels/{channel_id}/poll")

    assert (result.status_code, result.json) == (202, {"queued": False})
    Channel.update(claimed_until=0).execute()
    broker.flush_all()
    assert alice.post(f"/api/channels/{channel_id}/poll").json == {"queued": True}
    assert queued(broker) == [(channel_id,)]


def test_wait_reports_each_outcome_of_a_poll(
    alice: Caller, feed: Feed, broker, poll_worker: Worker
) -> None:
    channel_id = alice.subscribe(feed.url)
    wait_for_first_poll(channel_id)  # the first poll catalogs the feed quietly
    path = f"/api/channels/{channel_id}/poll"

    nothing = alice.post(path, params={"wait": 10})
    assert (nothing.status_code, nothing.json) == (
        200,
        {"queued": True, "outcome": "not_modified", "videos": [], "error": None},
    )

    feed.add("ep3", title="A new episode")
    new = alice.post(path, params={"wait": 10})
    assert new.status_code == 200 and new.json["outcome"] == "new"
    assert [(v["external_id"], v["title"]) for v in new.json["videos"]] == [
        ("ep3", "A new episode")
    ]
    assert Event.select().where(Event.kind == "new_episode").count() == 1

    feed.status = 404
    failed = alice.post(path, params={"wait": 10})
    assert failed.status_code == 200 and failed.json["outcome"] == "failed"
    assert "404" in failed.json["error"]

    feed.status = 200
    feed.items[0] = ("ep0", "Retitled", feed.items[0][2])  # a new ETag, no new entry
    assert alice.post(path, params={"wait": 10}).json["outcome"] == "unchanged"


def test_wait_waits_for_the_poll_already_queued(alice: Caller, feed: Feed, broker) -> None:
    channel_id = alice.subscribe(feed.url)  # queued, and no worker yet
    worker = Worker(broker, queues={POLL_QUEUE}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        result = alice.post(f"/api/channels/{channel_id}/poll", params={"wait": 10})
    finally:
        worker.stop()

    assert result.status_code == 200
    assert result.json == {"queued": False, "outcome": "unchanged", "videos": [], "error": None}
    assert Channel.get_by_id(channel_id).last_polled_at is not None


def test_wait_gives_up_with_a_202_when_no_worker_polls(alice: Caller, feed: Feed, broker) -> None:
    channel_id = alice.subscribe(feed.url)
    started = time.monotonic()

    result = alice.post(f"/api/channels/{channel_id}/poll", params={"wait": 0.5})

    assert 0.5 <= time.monotonic() - started < 2
    assert (result.status_code, result.json) == (202, {"queued": False, "outcome": None})


@pytest.mark.parametrize("wait", ["0", "-1", "61", "abc", "nan", "inf", ""])
def test_wait_outside_0_to_60_seconds_is_a_400(alice: Caller, feed: Feed, wait: str) -> None:
    channel_id = alice.subscribe(feed.url)

    result = alice.post(f"/api/channels/{channel_id}/poll", query_string=f"wait={wait}")

    assert result.status_code == 400 and "wait" in result.json["description"]
