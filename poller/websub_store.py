"""WebSub push, stored: subscriptions to hubs, verifications, pushes, trust.

One `PushSubscription` row per channel. The decisions are `poller.websub`'s;
this module reads the facts they need and writes what they say, a fixed
number of queries each. The API's callback (`api.resources.websub`) calls
`verify` and `push`; a poll calls `seen_feed` and `after_poll`; the tick
calls `claim_due`; `poller.websub_hub` calls the request functions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from peewee import fn

from . import websub
from .config import Settings
from .models import Channel, PushSubscription, db
from .schedule import Bounds
from .websub import SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBED, Links

CLAIM_S = 300.0  # a request the tick sent holds its row this long: no second send meanwhile
BATCH = 500


def ensure(channel_id: int, links: Links, now: float) -> None:
    """Create a channel's push subscription, due at once; keep one that exists."""
    PushSubscription.insert(
        channel=channel_id,
        hub=links.hub[:2048],
        topic=links.topic[:2048],
        token=secrets.token_urlsafe(24),
        secret=secrets.token_urlsafe(24),
        due_at=now,
        created_at=now,
    ).on_conflict_ignore().execute()


def claim_due(now: float, limit: int = BATCH) -> list[int]:
    """Claim the subscriptions whose request to the hub is due; return their ids.

    One UPDATE on the `due_at` index: a tick that fires twice, or two
    schedulers, never send one request twice.
    """
    due = (
        PushSubscription.select(PushSubscription.id)
        .where(PushSubscription.due_at <= now)
        .order_by(PushSubscription.due_at)
        .limit(limit)
    )
    query = (
        PushSubscription.update(due_at=now + CLAIM_S)
        .where(PushSubscription.id.in_(due) & (PushSubscription.due_at <= now))
        .returning(PushSubscription.id)
    )
    with db.atomic():
        return sorted(row_id for (row_id,) in query.tuples().execute())


@dataclass(frozen=True)
class Request:
    """What a request to the hub needs to know of one subscription."""

    id: int
    channel_id: int
    links: Links
    token: str
    secret: str
    state: str
    requested_mode: str | None
    attempts: int
    followed: bool  # someone subscribes to the channel


def for_request(subscription_id: int) -> Request | None:
    """Return a subscription to ask its hub about, or None when it is gone."""
    query: Any = (
        PushSubscription.select(
            PushSubscription.id,
            PushSubscription.channel,
            PushSubscription.hub,
            PushSubscription.topic,
            PushSubscription.token,
            PushSubscription.secret,
            PushSubscription.state,
            PushSubscription.requested_mode,
            PushSubscription.attempts,
            Channel.next_poll_at.is_null(False),
        )
        .join(Channel)
        .where(PushSubscription.id == subscription_id)
        .tuples()
    )
    row = query.first()
    if row is None:
        return None
    row_id, channel_id, hub, topic, token, secret, state, requested, attempts, followed = row
    links = Links(hub, topic)
    return Request(
        row_id, channel_id, links, token, secret, state, requested, attempts, bool(followed)
    )


def requested(subscription_id: int, mode: str, now: float) -> None:
    """Record a request the hub accepted: only its verification is answered now."""
    _update(
        subscription_id,
        requested_mode=mode,
        requested_at=now,
        attempts=0,
        last_error=None,
        due_at=now + websub.VERIFY_WAIT_S,  # sent again if never verified
    )


def request_failed(subscription_id: int, error: str, now: float, retry_at: float) -> None:
    """Record a refused or failed request; the next one goes at `retry_at`."""
    _update(
        subscription_id,
        attempts=PushSubscription.attempts + 1,
        last_error=error[:1000],
        last_error_at=now,
        due_at=retry_at,
    )


def dropped_locally(subscription_id: int) -> None:
    """End a subscription the hub never knew of (nobody follows its channel)."""
    _update(subscription_id, state=UNSUBSCRIBED, requested_mode=None, due_at=None, healthy=False)


def verify(token: str, params: dict[str, str], now: float, settings: Settings) -> str | None:
    """Answer a hub's verification of intent; return the challenge to echo, or None (404).

    A subscribe verified starts the lease and sets the renewal; an
    unsubscribe verified ends push for the channel; a denial (``hub.mode=
    denied``) is recorded and retried later.
    """
    if not websub.token_ok(token):
        return None
    row = PushSubscription.get_or_none(PushSubscription.token == token)
    mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
    if row is None:
        return None
    if mode == websub.DENIED:
        if not websub.denial_ok(row.requested_mode, row.topic, topic):
            return None
        delay = websub.retry_delay(row.attempts + 1, settings.websub_retry, None, 0.5)
        reason = "denied by the hub: " + params.get("hub.reason", "no reason given")
        _update(row.id, state=websub.DENIED, requested_mode=None, healthy=False)
        request_failed(row.id, reason, now, now + delay)
        return ""
    challenge = params.get("hub.challenge", "")
    if not websub.verification_ok(row.requested_mode, row.topic, mode, topic, challenge):
        return None
    if mode == SUBSCRIBE:
        lease = websub.lease_of(params.get("hub.lease_seconds"), settings.websub_lease)
        _update(
            row.id,
            state=SUBSCRIBED,
            requested_mode=None,
            lease_until=now + lease,
            due_at=websub.renew_at(now, lease),
            last_error=None,
        )
    else:
        _update(
            row.id,
            state=UNSUBSCRIBED,
            requested_mode=None,
            lease_until=None,
            due_at=None,
            healthy=False,
        )
    return challenge


def push(token: str, body: bytes, signature: str | None, now: float) -> int | None:
    """Take a hub's push; return the channel to poll, or None when it is dropped.

    A push with a bad or missing signature, or for a subscription that is
    not live, is counted and dropped (the hub is still answered 2xx).
    """
    if not websub.token_ok(token):
        return None
    row: Any = (
        PushSubscription.select(
            PushSubscription.id,
            PushSubscription.channel,
            PushSubscription.secret,
            PushSubscription.state,
        )
        .where(PushSubscription.token == token)
        .tuples()
        .first()
    )
    if row is None:
        return None
    row_id, channel_id, secret, state = row
    if state != SUBSCRIBED or not websub.signature_ok(secret, body, signature):
        _update(row_id, dropped=PushSubscription.dropped + 1)
        return None
    _update(
        row_id,
        pushes=PushSubscription.pushes + 1,
        last_push_at=now,
        pending_push_at=fn.COALESCE(PushSubscription.pending_push_at, now),
    )
    return channel_id


def seen_feed(channel: Channel, body: bytes, now: float, settings: Settings) -> None:
    """Subscribe a feed that advertises a hub (``<link rel="hub">``); push on only."""
    if settings.push and channel.kind == "feed":
        links = websub.advertised(body, channel.feed_url)
        if links is not None:
            ensure(channel.id, links, now)


def after_poll(channel: Channel, found_new: bool, now: float, settings: Settings) -> None:
    """Weigh push against a successful poll; stretch the cadence while push is healthy.

    A YouTube channel gets its subscription on its first poll with push on;
    one unsubscribed earlier and followed again is subscribed again.
    """
    if not settings.push:
        return
    query: Any = (
        PushSubscription.select(
            PushSubscription.id,
            PushSubscription.state,
            PushSubscription.healthy,
            PushSubscription.pending_push_at,
            PushSubscription.due_at,
            Channel.interval_s,
        )
        .join(Channel)
        .where(PushSubscription.channel == channel.id)
        .tuples()
    )
    row = query.first()
    if row is None:
        links = None
        if channel.kind == "youtube":
            links = websub.youtube_links(
                channel.external_id, settings.youtube_url, settings.websub_hub
            )
        if links is not None:
            ensure(channel.id, links, now)
        return
    row_id, state, healthy, pending_at, due_at, interval_s = row
    if state == UNSUBSCRIBED and due_at is None:
        _update(row_id, due_at=now)  # followed again
        return
    if state != SUBSCRIBED:
        return
    pending = pending_at is not None
    healthy_now = websub.healthy_after_poll(healthy, pending, found_new)
    fields: dict[str, Any] = {}
    if healthy_now != healthy:
        fields["healthy"] = healthy_now
    if pending and pending_at <= now:  # a push after the poll began is for the next one
        fields["pending_push_at"] = None
    if fields:
        _update(row_id, **fields)
    if pending and pending_at > now:
        _poll_at(channel.id, now, earlier=True)  # its poll may have been refused by our claim
    elif healthy_now:
        bounds = Bounds(settings.min_interval, settings.max_interval)
        _poll_at(channel.id, now + websub.sanity_interval(interval_s, bounds), earlier=False)


def wake(channel_ids: Any) -> None:
    """Make these channels' push requests due at once (their last subscriber left).

    `channel_ids` is a list or a subquery of ids; one UPDATE either way.
    """
    PushSubscription.update(due_at=0).where(
        PushSubscription.channel.in_(channel_ids)
        & PushSubscription.state.not_in([UNSUBSCRIBED])
    ).execute()


def counts() -> dict[str, int]:
    """Return how many channels have push subscribed, healthy, pending, failing (one query)."""
    ps = PushSubscription
    query: Any = ps.select(
        fn.SUM((ps.state == SUBSCRIBED).cast("INTEGER")),
        fn.SUM(((ps.state == SUBSCRIBED) & ps.healthy).cast("INTEGER")),
        fn.SUM((ps.requested_mode.is_null(False)).cast("INTEGER")),
        fn.SUM((ps.attempts > 0).cast("INTEGER")),
        fn.SUM(ps.dropped),
    ).tuples()
    subscribed, healthy, requesting, failing, dropped = query.first() or (0,) * 5
    return {
        "subscribed": int(subscribed or 0),
        "healthy": int(healthy or 0),
        "requested": int(requesting or 0),
        "failing": int(failing or 0),
        "dropped_pushes": int(dropped or 0),
    }


def _update(subscription_id: int, **fields: Any) -> None:
    PushSubscription.update(**fields).where(PushSubscription.id == subscription_id).execute()


def _poll_at(channel_id: int, when: float, *, earlier: bool) -> None:
    """Move a subscribed channel's next poll to `when`, if that is earlier (or later)."""
    move = Channel.next_poll_at > when if earlier else Channel.next_poll_at < when
    Channel.update(next_poll_at=when).where(
        (Channel.id == channel_id) & Channel.next_poll_at.is_null(False) & move
    ).execute()
