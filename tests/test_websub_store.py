"""WebSub push, stored: subscriptions made by polls, verifications, pushes, trust, hub failures."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import socket
import time

import pytest

from poller import pipeline, subscriptions, websub, websub_hub, websub_store
from poller.models import Channel, PushSubscription
from tests.support.cluster import BOTH_DATABASES
from tests.support.rows import make_user, subscribe

pytestmark = BOTH_DATABASES

CHANNEL = "UC" + "w" * 22


@pytest.fixture
def push_settings(settings):
    return dataclasses.replace(
        settings, public_url="https://tube.example.org", websub_hub="http://127.0.0.1:9/hub"
    )


@pytest.fixture
def channel(conn, push_settings) -> Channel:
    """A followed YouTube channel whose first poll made its push subscription."""
    found = subscribe(make_user(), f"https://www.youtube.com/channel/{CHANNEL}")
    websub_store.after_poll(found, False, time.time(), push_settings)
    return Channel.get_by_id(found.id)


def row() -> PushSubscription:
    return PushSubscription.get()


def verified(now: float, settings, lease: str = "432000") -> PushSubscription:
    """Mark the subscription requested, and verify it as the hub would."""
    subscription = row()
    websub_store.requested(subscription.id, "subscribe", now)
    params = {
        "hub.mode": "subscribe",
        "hub.topic": subscription.topic,
        "hub.challenge": "chal",
        "hub.lease_seconds": lease,
    }
    assert websub_store.verify(subscription.token, params, now, settings) == "chal"
    return row()


def signed(body: bytes, secret: str) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_a_youtube_channel_gets_its_subscription_at_its_first_poll_with_push_on(
    conn, settings, push_settings
) -> None:
    found = subscribe(make_user(), f"https://www.youtube.com/channel/{CHANNEL}")
    websub_store.after_poll(found, False, time.time(), settings)  # push off: nothing
    assert PushSubscription.select().count() == 0

    websub_store.after_poll(found, False, time.time(), push_settings)
    subscription = row()
    assert subscription.hub == "http://127.0.0.1:9/hub"
    assert subscription.topic.endswith(f"/xml/feeds/videos.xml?channel_id={CHANNEL}")
    assert subscription.state == websub.PENDING and subscription.due_at is not None
    assert len(subscription.secret) >= 32 and subscription.secret != subscription.token


def test_the_tick_claims_a_due_subscription_once(channel: Channel) -> None:
    now = time.time()
    assert websub_store.claim_due(now) == [row().id]
    assert websub_store.claim_due(now) == []  # a second tick, a second scheduler


def test_a_verification_is_answered_only_for_the_request_we_made(
    channel: Channel, push_settings
) -> None:
    subscription, now = row(), time.time()
    params = {"hub.mode": "subscribe", "hub.topic": subscription.topic, "hub.challenge": "c"}
    verify = websub_store.verify
    assert verify(subscription.token, params, now, push_settings) is None  # nothing asked yet
    websub_store.requested(subscription.id, "subscribe", now)
    assert verify("unknown-token", params, now, push_settings) is None
    assert verify(subscription.token, {**params, "hub.topic": "x"}, now, push_settings) is None
    assert (
        verify(subscription.token, {**params, "hub.mode": "unsubscribe"}, now, push_settings)
        is None
    )
    assert verify(subscription.token, params, now, push_settings) == "c"
    assert verify(subscription.token, params, now, push_settings) is None  # no replay
    done = row()
    assert done.state == websub.SUBSCRIBED and done.lease_until == pytest.approx(now + 432000)
    assert done.due_at == pytest.approx(now + 432000 - 86400)  # renewed after 4 days


def test_a_denial_is_recorded_and_asked_again_later(channel: Channel, push_settings) -> None:
    subscription, now = row(), time.time()
    websub_store.requested(subscription.id, "subscribe", now)
    params = {"hub.mode": "denied", "hub.topic": subscription.topic, "hub.reason": "quota"}
    assert websub_store.verify(subscription.token, params, now, push_settings) == ""
    denied = row()
    assert denied.state == websub.DENIED and "quota" in denied.last_error
    assert denied.due_at > now and denied.attempts == 1


def test_a_push_is_taken_only_signed_and_only_while_subscribed(
    channel: Channel, push_settings
) -> None:
    now = time.time()
    body = b"<feed/>"
    token, secret = row().token, row().secret
    assert websub_store.push(token, body, signed(body, secret), now) is None  # not verified yet
    verified(now, push_settings)
    assert websub_store.push(token, body, None, now) is None
    assert websub_store.push(token, body, signed(body, "other"), now) is None
    assert websub_store.push("nobody", body, signed(body, secret), now) is None
    assert websub_store.push(token, body, signed(body, secret), now) == channel.id
    taken = row()
    assert (taken.pushes, taken.dropped, taken.pending_push_at) == (1, 3, now)
    assert websub_store.counts() == {
        "subscribed": 1,
        "healthy": 0,
        "requested": 0,
        "failing": 0,
        "dropped_pushes": 3,
    }


def test_an_upload_push_never_announced_marks_push_unhealthy_and_the_cadence_normal(
    channel: Channel, push_settings
) -> None:
    now = time.time()
    subscription = verified(now, push_settings)
    body = b"<feed/>"
    websub_store.push(subscription.token, body, signed(body, subscription.secret), now)
    Channel.update(interval_s=600, next_poll_at=now + 600).execute()

    websub_store.after_poll(channel, True, now + 1, push_settings)  # the push's poll found it
    assert row().healthy and row().pending_push_at is None
    stretched = Channel.get_by_id(channel.id).next_poll_at
    assert stretched == pytest.approx(now + 1 + 600 * websub.SANITY_STRETCH)

    Channel.update(next_poll_at=now + 600).execute()
    websub_store.after_poll(channel, True, now + 2, push_settings)  # found with no push
    assert not row().healthy
    assert Channel.get_by_id(channel.id).next_poll_at == pytest.approx(now + 600)  # normal


def test_a_push_during_a_poll_makes_the_channel_due_again(channel: Channel, push_settings) -> None:
    now = time.time()
    subscription = verified(now, push_settings)
    Channel.update(next_poll_at=now + 600).execute()
    body = b"<feed/>"
    websub_store.push(subscription.token, body, signed(body, subscription.secret), now + 5)

    websub_store.after_poll(channel, False, now + 1, push_settings)  # began before the push

    assert Channel.get_by_id(channel.id).next_poll_at == pytest.approx(now + 1)
    assert row().pending_push_at == now + 5  # still for the next poll


def test_the_last_unsubscribe_makes_the_hub_request_due(channel: Channel, push_settings) -> None:
    verified(time.time(), push_settings)
    user = channel.subscriptions[0].user
    subscriptions.unsubscribe(user, channel.id)
    assert row().due_at == 0
    assert websub_store.for_request(row().id).followed is False


def test_an_unreachable_hub_is_asked_again_after_a_backoff(channel: Channel, push_settings) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = dataclasses.replace(push_settings, websub_hub=f"http://127.0.0.1:{port}/hub")
    PushSubscription.update(hub=settings.websub_hub).execute()
    now = time.time()

    asked = websub_hub.request(row().id, now, settings, rng=lambda: 0.5)

    assert asked.outcome == "failed" and "cannot connect" in (asked.error or "")
    assert asked.retry_in_s == settings.websub_retry
    failed = row()
    assert (
        failed.attempts == 1 and failed.due_at > now + asked.retry_in_s
    )  # the actor's retry first
    again = websub_hub.request(row().id, now, settings, rng=lambda: 0.5)
    assert again.retry_in_s == 2 * settings.websub_retry


HUBBED_FEED = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Hubbed</title><link rel="hub" href="https://hub.example.org/"/>
<link rel="self" href="https://example.org/hubbed.xml"/>
<entry><id>urn:one</id><title>One</title><link href="https://example.org/1"/>
<updated>2026-11-30T10:00:00Z</updated></entry></feed>"""


def test_a_feed_advertising_a_hub_is_subscribed_there_by_its_poll(
    conn, push_settings, feeds
) -> None:
    url = feeds.set_raw("hubbed", HUBBED_FEED, content_type="application/atom+xml")
    found = subscribe(make_user(), url)

    result = pipeline.poll_channel(found.id, time.time(), push_settings)

    assert result.outcome in ("new", "unchanged")
    assert (row().hub, row().topic) == (
        "https://hub.example.org/",
        "https://example.org/hubbed.xml",
    )
    assert row().channel_id == found.id
