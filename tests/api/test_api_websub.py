"""/websub/{token}: a hub's verifications and pushes, through the app and the claim."""

from __future__ import annotations

import hashlib
import hmac
import time

import falcon.testing
import pytest

from poller import websub
from poller.claim import release
from poller.models import PushSubscription
from poller.websub_store import ensure, requested
from tests.api.support import Caller, Feed, queued


@pytest.fixture
def subscription(alice: Caller, feed: Feed, broker) -> PushSubscription:
    """A verified push subscription of alice's feed; no poll queued."""
    channel_id = alice.subscribe(feed.url)
    ensure(channel_id, websub.Links("https://hub.example.org/", feed.url), time.time())
    row = PushSubscription.get()
    requested(row.id, websub.SUBSCRIBE, time.time())
    PushSubscription.update(state=websub.SUBSCRIBED, requested_mode=None).execute()
    broker.flush_all()
    release([channel_id])  # the subscription's first poll is gone with the queue
    return PushSubscription.get()


def signature(body: bytes, secret: str, method: str = "sha256") -> str:
    return f"{method}=" + hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()


def push(client: falcon.testing.TestClient, token: str, body: bytes, header: str | None):
    headers = {"X-Hub-Signature": header} if header else {}
    return client.simulate_post(f"/websub/{token}", body=body, headers=headers)


def test_a_storm_of_signed_pushes_queues_one_poll(
    client: falcon.testing.TestClient, subscription: PushSubscription, broker
) -> None:
    body = b"<feed><entry/></feed>"
    for _ in range(20):
        answer = push(client, subscription.token, body, signature(body, subscription.secret))
        assert answer.status_code == 204
    assert queued(broker) == [(subscription.channel_id,)]  # the claim holds the rest
    assert PushSubscription.get().pushes == 20


def test_a_bad_or_missing_signature_is_answered_2xx_and_queues_nothing(
    client: falcon.testing.TestClient, subscription: PushSubscription, broker
) -> None:
    body = b"<feed><entry/></feed>"
    for header in (None, "sha256=" + "0" * 64, signature(body + b"x", subscription.secret)):
        assert push(client, subscription.token, body, header).status_code == 204
    assert push(client, "no-such-token", body, None).status_code == 204
    assert push(client, "nul%00", body, "sha1=\u00e9").status_code == 204
    assert queued(broker) == []
    assert PushSubscription.get().dropped == 3


def test_a_push_over_64_kib_is_refused(
    client: falcon.testing.TestClient, subscription: PushSubscription, broker
) -> None:
    body = b"x" * (websub.MAX_PUSH_BYTES + 1)
    answer = push(client, subscription.token, body, signature(body, subscription.secret))
    assert answer.status_code == 413
    assert queued(broker) == []


def test_the_challenge_is_echoed_only_for_the_request_we_made(
    client: falcon.testing.TestClient, subscription: PushSubscription
) -> None:
    requested(subscription.id, websub.SUBSCRIBE, time.time())
    params = {"hub.mode": "subscribe", "hub.topic": subscription.topic, "hub.challenge": "ch4l"}
    path = f"/websub/{subscription.token}"
    assert client.simulate_get(path, params={**params, "hub.topic": "x"}).status_code == 404
    assert client.simulate_get("/websub/nope", params=params).status_code == 404
    answer = client.simulate_get(path, params={**params, "hub.lease_seconds": "864000"})
    assert answer.status_code == 200 and answer.text == "ch4l"
    assert answer.headers["content-type"].startswith("text/plain")
    assert client.simulate_get(path, params=params).status_code == 404  # no replay
    assert PushSubscription.get().lease_until == pytest.approx(time.time() + 864000, abs=5)


def test_a_channel_shows_its_push_state(alice: Caller, subscription: PushSubscription) -> None:
    (channel,) = alice.get("/api/channels").json["items"]
    assert channel["push"] == {
        "state": "subscribed",
        "requested": None,
        "healthy": False,
        "lease_until": None,
        "last_push_at": None,
        "pushes": 0,
        "dropped": 0,
        "last_error": None,
    }
