"""WebSub push, as rules: pure functions of the facts, the clock passed in.

A push is a hint: it only sends a poll of its channel through the claim, and
videos are written by polls alone. These functions say which hub and topic a
channel has, whether a hub's verification or push is ours, when to ask the
hub again, and how a poll's outcome changes the trust in push. The writes
are in `poller.websub_store`, the hub requests in `poller.websub_hub`.
(W3C WebSub, sections 5 to 8; YouTube's hub as ../shared/YOUTUBE-NOTES.md.)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from html import unescape

from .schedule import Bounds

SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
DENIED = "denied"

# `PushSubscription.state`: what the hub last verified (or refused).
PENDING = "pending"  # never verified yet
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
STATES = (PENDING, SUBSCRIBED, UNSUBSCRIBED, DENIED)

VERIFY_WAIT_S = 900.0  # a request the hub accepted but never verified is sent again after
RENEW_MARGIN_S = 86400.0  # renew a lease a day before it ends (a 5-day lease: after 4 days)
MAX_RETRY_S = 6 * 3600.0
MIN_LEASE_S, MAX_LEASE_S = 5.0, 30 * 86400.0  # a hub's lease outside is clamped
SANITY_STRETCH = 8  # while push is healthy, a channel is polled this many times less often
SANITY_CAP_S = 6 * 3600.0  # … but at least every 6 h (or its normal interval, if longer)
MAX_PUSH_BYTES = 64 * 1024  # a push carries one entry; YouTube's are ~1 KB
DISCOVERY_BYTES = 64 * 1024  # a feed's <link rel="hub"> is in its head
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384}
_DIGESTS["sha512"] = hashlib.sha512
_LINK = re.compile(rb"<(?:[A-Za-z0-9_-]+:)?link\b([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([A-Za-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CHANNEL_ID = re.compile(r"UC[0-9A-Za-z_-]{22}")
_TOKEN = re.compile(r"[0-9A-Za-z_-]{1,64}")


@dataclass(frozen=True)
class Links:
    """Where a channel's pushes come from: the hub to ask and the topic to name."""

    hub: str
    topic: str


def youtube_links(channel_id: str | None, youtube_url: str, hub: str) -> Links | None:
    """Return a YouTube channel's hub and topic, or None (playlists have none).

    The topic is the feed's URL with ``/xml/`` in its path (the feed does not
    advertise its hub); `youtube_url` is the base every YouTube URL is built on.
    """
    if not channel_id or not _CHANNEL_ID.fullmatch(channel_id):
        return None
    return Links(hub, f"{youtube_url}/xml/feeds/videos.xml?channel_id={channel_id}")


def advertised(body: bytes, feed_url: str) -> Links | None:
    """Return the hub a feed advertises (``<link rel="hub">``) and its topic, else None.

    The topic is its ``rel="self"`` link, or the feed's own URL without one.
    Only the head of the body is read: the links come before the entries.
    """
    hub = topic = None
    for match in _LINK.finditer(body[:DISCOVERY_BYTES]):
        found = {name.lower(): (a or b) for name, a, b in _ATTRIBUTE.findall(match.group(1))}
        rels = found.get(b"rel", b"").lower().split()
        href = unescape(found.get(b"href", b"").decode("utf-8", "replace")).strip()
        if not href.startswith(("http://", "https://")):
            continue
        if b"hub" in rels and hub is None:
            hub = href
        if b"self" in rels and topic is None:
            topic = href
    return Links(hub, topic or feed_url) if hub else None


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Return True when ``X-Hub-Signature: <method>=<hex>`` is the body's HMAC under `secret`.

    sha1 (YouTube's) and the sha2 methods are taken; the digests are compared
    in constant time. A missing, malformed or unknown-method header is False.
    """
    method, _, given = (header or "").strip().partition("=")
    digest = _DIGESTS.get(method.strip().lower())
    if digest is None or not secret or not given:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest().encode()
    # Bytes: compare_digest refuses a str with non-ASCII characters (a forged header).
    return hmac.compare_digest(expected, given.strip().lower().encode("utf-8", "replace"))


def token_ok(token: str) -> bool:
    """Return True when `token` could be one of ours (`secrets.token_urlsafe`), else don't look."""
    return bool(_TOKEN.fullmatch(token))


def verification_ok(
    requested_mode: str | None, topic: str, mode: str, asked_topic: str, challenge: str
) -> bool:
    """Return True when a hub verifies the request we made: same mode, same topic.

    Anything else (no request outstanding, the other mode, another topic, no
    challenge) is refused: the callback answers 404.
    """
    if not challenge or requested_mode is None or mode != requested_mode:
        return False
    return hmac.compare_digest(topic.encode(), asked_topic.encode())


def denial_ok(requested_mode: str | None, topic: str, asked_topic: str) -> bool:
    """Return True when a hub denies the subscription we asked for (``hub.mode=denied``)."""
    return requested_mode == SUBSCRIBE and hmac.compare_digest(topic.encode(), asked_topic.encode())


def lease_of(given: str | None, asked: float) -> float:
    """Return the lease a verification grants: the hub's, clamped; ours when it names none."""
    try:
        lease = float(given) if given else asked
    except ValueError:
        lease = asked
    if lease != lease:  # NaN
        lease = asked
    return max(MIN_LEASE_S, min(MAX_LEASE_S, lease))


def renew_at(now: float, lease_s: float) -> float:
    """Return when to renew a lease granted `now`: a day before its end, or at its half."""
    return now + max(lease_s / 2, lease_s - RENEW_MARGIN_S)


def retry_delay(attempts: int, first_s: float, retry_after_s: float | None, jitter: float) -> float:
    """Return the seconds to wait after the `attempts`-th failed request in a row.

    Doubles from `first_s` up to 6 h, spread by ±20 % (`jitter` in [0, 1)),
    and never shorter than the hub's Retry-After (itself capped at 6 h).
    """
    exponent = min(max(attempts - 1, 0), 30)
    base = min(MAX_RETRY_S, first_s * 2**exponent) * (1 + 0.2 * (2 * jitter - 1))
    return max(base, min(retry_after_s or 0.0, MAX_RETRY_S))


def wanted_mode(subscribed: bool) -> str:
    """Return the request a channel needs: subscribe while someone follows it."""
    return SUBSCRIBE if subscribed else UNSUBSCRIBE


def needs_request(mode: str, state: str, requested_mode: str | None) -> bool:
    """Return False for an unsubscribe the hub never knew of: nothing to ask."""
    unknown_to_hub = state in (PENDING, UNSUBSCRIBED, DENIED) and not requested_mode
    return not (mode == UNSUBSCRIBE and unknown_to_hub)


def healthy_after_poll(healthy: bool, push_pending: bool, found_new: bool) -> bool:
    """Return the trust in a channel's push after a poll.

    A poll that found an upload tells: a push announced it (trusted) or none
    did (push is broken for this channel). One that found nothing keeps it.
    """
    return push_pending if found_new else healthy


def sanity_interval(interval_s: float, bounds: Bounds) -> float:
    """Return the interval of a channel's sanity polls while push is healthy.

    The normal interval stretched, but not past 6 h or the longest interval,
    and never shorter than the normal one.
    """
    return max(interval_s, min(interval_s * SANITY_STRETCH, SANITY_CAP_S, bounds.max_s))


def callback_url(public_url: str, token: str) -> str:
    """Return the callback a hub calls for one subscription."""
    return f"{public_url}/websub/{token}"


def hub_form(mode: str, links: Links, callback: str, lease_s: float, secret: str) -> dict[str, str]:
    """Return the form of a subscription request (``hub.*`` fields)."""
    form = {"hub.mode": mode, "hub.topic": links.topic, "hub.callback": callback}
    if mode == SUBSCRIBE:
        form.update({"hub.lease_seconds": str(round(lease_s)), "hub.secret": secret})
    form["hub.verify"] = "async"  # PubSubHubbub 0.3 hubs (YouTube's) want one
    return form
