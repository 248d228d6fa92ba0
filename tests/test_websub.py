"""WebSub's rules (pure): hubs and topics, signatures, verifications, leases, trust."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from poller import websub
from poller.schedule import Bounds

SECRET = "s3cret-of-one-subscription"
BODY = b"<feed><entry><yt:videoId>abcdefghijk</yt:videoId></entry></feed>"


def sign(method: str, body: bytes = BODY, secret: str = SECRET) -> str:
    return f"{method}=" + hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha512"])
def test_a_push_signed_with_the_secret_is_accepted(method: str) -> None:
    assert websub.signature_ok(SECRET, BODY, sign(method))
    assert websub.signature_ok(SECRET, BODY, sign(method).upper().replace("SHA", "sha"))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1",
        "sha1=",
        "md5=" + hashlib.md5(BODY).hexdigest(),
        sign("sha1", BODY + b" "),
        sign("sha1", secret="another"),
        sign("sha256")[:-1],
        "sha1=" + "0" * 40,
        "sha1=é" + "0" * 39,  # not ASCII: refused, not a TypeError
    ],
)
def test_a_push_with_a_bad_or_missing_signature_is_refused(header: str | None) -> None:
    assert not websub.signature_ok(SECRET, BODY, header)


def test_no_secret_verifies_nothing() -> None:
    assert not websub.signature_ok("", BODY, sign("sha1", secret=""))


def test_only_the_request_we_made_is_verified() -> None:
    topic = "https://www.youtube.com/xml/feeds/videos.xml?channel_id=UC" + "a" * 22
    ok = websub.verification_ok
    assert ok("subscribe", topic, "subscribe", topic, "c")
    assert not ok(None, topic, "subscribe", topic, "c")  # nothing asked: a replay
    assert not ok("subscribe", topic, "unsubscribe", topic, "c")
    assert not ok("subscribe", topic, "subscribe", topic + "&x=1", "c")
    assert not ok("subscribe", topic, "subscribe", topic, "")
    assert websub.denial_ok("subscribe", topic, topic)
    assert not websub.denial_ok("unsubscribe", topic, topic)


def test_a_youtube_channel_has_the_hub_and_the_xml_topic_a_playlist_none() -> None:
    links = websub.youtube_links("UC" + "b" * 22, "https://www.youtube.com", "https://hub/x")
    assert links == websub.Links(
        "https://hub/x", "https://www.youtube.com/xml/feeds/videos.xml?channel_id=UC" + "b" * 22
    )
    assert websub.youtube_links("PL" + "b" * 22, "https://www.youtube.com", "h") is None
    assert websub.youtube_links(None, "https://www.youtube.com", "h") is None


def test_a_feed_advertising_a_hub_names_it_and_its_self_topic() -> None:
    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<link href='https://example.org/feed.xml?a=1&amp;b=2' rel='self'/>"
        b'<link rel="hub" href="https://hub.example.org/"/><entry/></feed>'
    )
    assert websub.advertised(atom, "https://example.org/feed") == websub.Links(
        "https://hub.example.org/", "https://example.org/feed.xml?a=1&b=2"
    )
    rss = (
        b'<rss><channel><atom:link rel="hub" href="https://hub.example.org/"/>'
        b"<item/></channel></rss>"
    )
    assert websub.advertised(rss, "https://example.org/rss") == websub.Links(
        "https://hub.example.org/", "https://example.org/rss"
    )
    assert websub.advertised(b'<feed><link rel="alternate" href="https://x/"/></feed>', "u") is None
    assert websub.advertised(b'<feed><link rel="hub" href="javascript:x"/></feed>', "u") is None


def test_a_lease_is_renewed_a_day_before_its_end_or_at_its_half() -> None:
    assert websub.renew_at(1000, 432000) == 1000 + 432000 - 86400  # 5 days: after 4
    assert websub.renew_at(1000, 8) == 1004
    assert websub.lease_of("8", 432000) == 8
    assert websub.lease_of(None, 432000) == 432000
    assert websub.lease_of("nan", 100) == 100
    assert websub.lease_of("1", 100) == websub.MIN_LEASE_S
    assert websub.lease_of("1e12", 100) == websub.MAX_LEASE_S


def test_a_refused_request_backs_off_doubling_and_honours_retry_after() -> None:
    assert [websub.retry_delay(n, 60, None, 0.5) for n in (1, 2, 3)] == [60, 120, 240]
    assert websub.retry_delay(40, 60, None, 0.5) == websub.MAX_RETRY_S
    assert websub.retry_delay(1, 60, None, 0.0) == pytest.approx(48)
    assert websub.retry_delay(1, 60, None, 0.999) == pytest.approx(72, abs=0.1)
    assert websub.retry_delay(1, 60, 120, 0.5) == 120  # YouTube's hub: retry-after: 120
    assert websub.retry_delay(1, 60, 1e9, 0.5) == websub.MAX_RETRY_S


def test_an_upload_no_push_announced_breaks_the_trust_one_announced_earns_it() -> None:
    assert websub.healthy_after_poll(True, False, True) is False
    assert websub.healthy_after_poll(False, True, True) is True
    assert websub.healthy_after_poll(True, False, False) is True  # nothing new: no news
    assert websub.healthy_after_poll(False, True, False) is False  # an edit's push: no proof


def test_the_sanity_poll_stretches_the_interval_within_bounds() -> None:
    bounds = Bounds(300, 86400)
    assert websub.sanity_interval(300, bounds) == 2400
    assert websub.sanity_interval(3600, bounds) == websub.SANITY_CAP_S
    assert websub.sanity_interval(43200, bounds) == 43200  # never shorter than normal
    assert websub.sanity_interval(300, Bounds(300, 1200)) == 1200


def test_only_a_subscribe_carries_the_lease_and_the_secret() -> None:
    links = websub.Links("https://hub/", "https://topic/")
    form = websub.hub_form("subscribe", links, "https://me/websub/t", 432000, "sec")
    assert form == {
        "hub.mode": "subscribe",
        "hub.topic": "https://topic/",
        "hub.callback": "https://me/websub/t",
        "hub.lease_seconds": "432000",
        "hub.secret": "sec",
        "hub.verify": "async",
    }
    form = websub.hub_form("unsubscribe", links, "https://me/websub/t", 432000, "sec")
    assert "hub.secret" not in form and "hub.lease_seconds" not in form


def test_an_unsubscribe_the_hub_never_knew_of_is_not_sent() -> None:
    assert not websub.needs_request("unsubscribe", websub.PENDING, None)
    assert websub.needs_request("unsubscribe", websub.PENDING, "subscribe")
    assert websub.needs_request("unsubscribe", websub.SUBSCRIBED, None)
    assert websub.needs_request("subscribe", websub.UNSUBSCRIBED, None)


def test_only_a_token_of_ours_is_looked_up() -> None:
    assert websub.token_ok("PDH2Au5rjdgvC6ecMIaroCIAtKfi-wOw")
    for token in ("", "a" * 65, "a\x00b", "../x", "é"):
        assert not websub.token_ok(token)
