"""Tell subscribers that a channel keeps failing or that its host is paused.

Each writes one event per user concerned and queues their deliveries, in one
transaction with a fixed number of statements whatever the number of users
(INSERT … SELECT); the caller sends the returned delivery ids after it.
"""

from __future__ import annotations

import json

from peewee import Cast, Value

from . import notify_store
from .listings.shapes import iso
from .models import CHANNEL_FAILING, HOST_PAUSED, Channel, Event, Host, Subscription, db
from .store import lock_event_ids

# Failed polls in a row (each counted: retries too) after which subscribers are told, once.
FAILING_AFTER = 3

_COLUMNS = [Event.user, Event.kind, Event.channel, Event.dedup_key, Event.payload, Event.created_at]


def channel_failing(channel_id: int, failures: int, error: str, now: float) -> list[int]:
    """Tell a channel's subscribers it failed `FAILING_AFTER` polls in a row.

    Only the failure that reaches the count writes events: once per run of
    failures, which a successful poll ends.
    """
    if failures != FAILING_AFTER:
        return []
    payload = {"error": error[:500], "failures": failures}
    key = (
        Value(CHANNEL_FAILING + ":")
        .concat(Cast(Subscription.user, "TEXT"))
        .concat(f":{channel_id}:{now!r}")
    )
    rows = Subscription.select(
        Subscription.user,
        Value(CHANNEL_FAILING),
        Subscription.channel,
        key,
        Value(json.dumps(payload)),
        Value(now),
    ).where(Subscription.channel == channel_id)
    with db.atomic():
        lock_event_ids()
        Event.insert_from(rows, _COLUMNS).on_conflict_ignore().execute()
        where = (Event.channel == channel_id) & (Event.created_at == now)
        return notify_store.queue(CHANNEL_FAILING, where, now)


def host_paused(host: str, until: float | None, reason: str, now: float) -> list[int]:
    """Tell every user subscribed to a channel on `host` that the host is paused.

    One event per user and pause: every worker that meets the same bot check
    reports the same pause, and its key (host, end of the pause) is written once.
    """
    payload = {"host": host, "until": iso(until), "error": reason[:500]}
    key = (
        Value(HOST_PAUSED + ":")
        .concat(Cast(Subscription.user, "TEXT"))
        .concat(f":{host}:{until!r}"[:100])
    )
    rows = (
        Subscription.select(
            Subscription.user,
            Value(HOST_PAUSED),
            key,
            Value(json.dumps(payload)),
            Value(now),
        )
        .join(Channel)
        .join(Host)
        .where(Host.name == host)
        .distinct()
    )
    with db.atomic():
        lock_event_ids()
        columns = [c for c in _COLUMNS if c is not Event.channel]  # about no channel
        Event.insert_from(rows, columns).on_conflict_ignore().execute()
        where = (Event.created_at == now) & Event.dedup_key.endswith(f":{host}:{until!r}"[:100])
        return notify_store.queue(HOST_PAUSED, where, now)
