"""channel_failing and host_paused: written by polls inline against the fake YouTube."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from poller import alerts, notify, pipeline
from poller.models import Delivery, Event
from tests.support.cluster import BOTH_DATABASES
from tests.support.fakeyoutube import BOT_CHECK, SERVER_ERROR, FakeYouTube
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.usefixtures("conn"), BOTH_DATABASES]


@pytest.fixture
def feeds() -> Iterator[FakeYouTube]:
    server = FakeYouTube()
    yield server
    server.stop()


def test_a_channel_failing_three_polls_in_a_row_is_told_once(feeds, hooks, settings) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    source = feeds.add_channel()
    channel = subscribe(alice, f"https://www.youtube.com/channel/{source.id}")
    subscribe(bob, channel.feed_url)
    notify.add_target(alice, hooks.url("/a"), ["channel_failing"], time.time(), settings)
    feeds.set_mode(SERVER_ERROR)

    results = [
        pipeline.poll_channel(channel.id, time.time() + n, settings)
        for n in range(alerts.FAILING_AFTER + 2)
    ]
    assert [r.outcome for r in results] == [pipeline.POLL_FAILED] * (alerts.FAILING_AFTER + 2)
    assert [len(r.notice_ids) for r in results] == [0, 0, 1, 0, 0]
    events = list(Event.select().where(Event.kind == "channel_failing"))
    assert sorted(e.user_id for e in events) == [alice.id, bob.id]  # every subscriber's events
    assert json.loads(events[0].payload)["failures"] == alerts.FAILING_AFTER

    [delivery_id] = results[2].notice_ids
    assert notify.deliver(delivery_id, time.time(), settings, retrying=False).status == "sent"
    [got] = hooks.at("/a")
    assert got.body["title"] == f"Channel failing: {channel.feed_url}"
    assert "Error: HTTP 503 from 127.0.0.1" in got.body["message"].splitlines()


def test_a_host_paused_by_a_bot_check_is_told_once_per_pause(feeds, hooks, settings) -> None:
    alice = make_user("alice")
    first, second = (feeds.add_channel() for _ in range(2))
    channels = [
        subscribe(alice, f"https://www.youtube.com/channel/{s.id}") for s in (first, second)
    ]
    notify.add_target(alice, hooks.url("/p"), ["host_paused"], time.time(), settings)
    feeds.set_mode(BOT_CHECK)

    paused = pipeline.poll_channel(channels[0].id, time.time(), settings)
    later = pipeline.poll_channel(channels[1].id, time.time() + 1, settings)
    assert (paused.outcome, later.outcome) == (pipeline.DEFERRED, pipeline.DEFERRED)
    assert len(paused.notice_ids) == 1 and later.notice_ids == []
    assert Event.select().where(Event.kind == "host_paused").count() == 1

    assert (
        notify.deliver(paused.notice_ids[0], time.time(), settings, retrying=False).status == "sent"
    )
    [got] = hooks.at("/p")
    host = feeds.base.split("://", 1)[1]
    assert got.body["title"] == f"Host paused: {host}"
    lines = got.body["message"].splitlines()
    assert f"Host: {host}" in lines and any(line.startswith("Until: 20") for line in lines)
    assert any(line.startswith("Error: ") and "not a bot" in line for line in lines)
    assert Delivery.get_by_id(paused.notice_ids[0]).kind == "host_paused"
