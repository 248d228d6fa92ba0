"""Pausing subscriptions: a channel sleeps once all its subscribers paused it."""

from __future__ import annotations

import time

import pytest

from poller import claim, listings, subscriptions, users
from poller.models import Channel
from tests.support.cluster import BOTH_DATABASES
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe

pytestmark = [pytest.mark.usefixtures("conn"), BOTH_DATABASES]


def state(channel_id: int) -> tuple[bool, bool]:
    """Return (due, paused) of a channel."""
    row = Channel.get_by_id(channel_id)
    return row.next_poll_at is not None, row.paused_at is not None


def test_the_last_pause_stops_the_claim_and_a_resume_makes_it_due(
    database_url, feeds: FeedServer
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    url = feeds.feed_url(feeds.add_channel().number)
    channel = subscribe(alice, url)
    subscribe(bob, url)
    now = time.time()

    subscriptions.pause(alice, channel.id, now)
    assert state(channel.id) == (True, False)
    subscriptions.pause(bob, channel.id, now)
    assert state(channel.id) == (False, True)
    assert claim.claim(now + 1, 60, due_only=False) == []
    assert listings.health_counts() == {"ok": 0, "failing": 0, "paused": 1}

    subscriptions.resume(bob, channel.id, now + 5)
    assert state(channel.id) == (True, False)
    assert Channel.get_by_id(channel.id).next_poll_at == now + 5
    assert claim.claim(now + 6, 60) == [channel.id]


def test_leaving_or_being_removed_settles_the_channels_of_those_who_stay(
    database_url, feeds: FeedServer
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    shared = feeds.feed_url(feeds.add_channel().number)
    alone = feeds.feed_url(feeds.add_channel().number)
    channel, own = subscribe(alice, shared), subscribe(bob, alone)
    subscribe(bob, shared)
    subscriptions.pause(alice, channel.id, time.time())

    subscriptions.unsubscribe(bob, channel.id)  # alice, who paused, is left
    assert state(channel.id) == (False, True)
    users.remove_user("bob")
    assert state(own.id) == (False, False)  # nobody left
    assert [u["name"] for u in listings.users()] == ["alice"]
    users.remove_user("alice")
    assert state(channel.id) == (False, False)
