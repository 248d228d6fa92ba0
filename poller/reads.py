"""What a poll reads before it writes: its channel, its crash count, the ids it knows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from peewee import JOIN, DatabaseError, chunked

from . import kinds
from .decide import Gate, Upcoming
from .models import UNAVAILABLE, Channel, Host, Subscription, Video, db
from .sql import compiled, model_rows


def load(channel_id: int) -> Channel | None:
    """Return a channel to poll, or None when it is gone.

    Its host's pause and degraded flag come with it, in the same query (the
    `host_*` attributes, see `host_of`): a poll asks its host for free.
    """
    sql = compiled("load", lambda: _with_host().where(Channel.id == channel_id), [channel_id])
    rows = model_rows(Channel, sql, [channel_id])
    return rows[0] if rows else None


def _with_host() -> Any:
    return Channel.select(
        Channel,
        Host.name.alias("host_name"),
        Host.paused_until.alias("host_paused_until"),
        Host.probe_until.alias("host_probe_until"),
        Host.degraded_since.alias("host_degraded_since"),
        Host.polled_channels.alias("host_polled_channels"),
        Host.weight_sum.alias("host_weight_sum"),
    ).join(Host, JOIN.LEFT_OUTER, on=(Channel.host == Host.id))


@dataclass(frozen=True)
class HostOf:
    """What a poll knows of its channel's host (from `load`; None: not linked)."""

    name: str | None
    paused_until: float | None
    probe_until: float | None
    degraded: bool
    channels: int = 0  # its polled channels, as the last tick counted them
    weight_sum: float = 0.0  # the sum of their weights (poller/cadence.py)


def host_of(channel: Channel) -> HostOf:
    """Return the host facts `load` read with the channel.

    A channel read another way (a redelivery's `begin_attempt`) has none:
    its host is read on its own then (one more query, for redeliveries only).
    """
    if not hasattr(channel, "host_name") and channel.host_id is not None:
        query: Any = Host.select(
            Host.name,
            Host.paused_until,
            Host.probe_until,
            Host.degraded_since,
            Host.polled_channels,
            Host.weight_sum,
        ).where(Host.id == channel.host_id)
        row = query.tuples().first()
        if row is not None:
            return HostOf(row[0], row[1], row[2], row[3] is not None, row[4], row[5])
    return HostOf(
        getattr(channel, "host_name", None),
        getattr(channel, "host_paused_until", None),
        getattr(channel, "host_probe_until", None),
        getattr(channel, "host_degraded_since", None) is not None,
        getattr(channel, "host_polled_channels", None) or 0,
        getattr(channel, "host_weight_sum", None) or 0.0,
    )


def begin_attempt(channel_id: int) -> Channel | None:
    """Count one more redelivered attempt at polling a channel and return it.

    The count is committed before any network call, so a poll that kills its
    worker again leaves it raised; `finish_*` and `record_failure` reset it.
    """
    # One statement, committed on its own (peewee runs in autocommit mode):
    # no BEGIN/COMMIT round trips while SQLite's write lock is held, which a
    # busy worker stretches by waiting for the GIL between them.
    sql = compiled(
        "begin_attempt",
        lambda: (
            Channel.update(poll_attempts=Channel.poll_attempts + 1)
            .where(Channel.id == channel_id)
            .returning(Channel)
        ),
        [1, channel_id],
    )
    rows = model_rows(Channel, sql, [1, channel_id])
    return rows[0] if rows else None


def forget_attempt(channel_id: int) -> None:
    """Undo `begin_attempt` after a database error, if the database lets us."""
    try:
        with db.atomic():
            Channel.update(poll_attempts=Channel.poll_attempts - 1).where(
                (Channel.id == channel_id) & (Channel.poll_attempts > 0)
            ).execute()
    except DatabaseError:
        pass  # the retry starts one attempt higher; MAX_KILLED_POLLS leaves room


def download_gates(channel_id: int) -> list[Gate]:
    """Return each subscription's download gating data for a channel."""
    query: Any = Subscription.select(
        Subscription.mode, Subscription.created_at, Subscription.include
    ).where(Subscription.channel == channel_id)
    return [
        Gate(mode, subscribed_at, kinds.include_from_json(include))
        for mode, subscribed_at, include in query.tuples()
    ]


def upcoming(channel_id: int) -> list[Upcoming]:
    """Return the channel's upcoming videos (premieres, scheduled streams) still awaited."""
    query: Any = Video.select(
        Video.id,
        Video.external_id,
        Video.available_at,
        Video.updated_at,
        Video.discovered_at,
        Video.published_at,
        Video.backfill,
    ).where(
        (Video.channel == channel_id)
        & (Video.media_type == kinds.UPCOMING)
        & (Video.download_status != UNAVAILABLE)
    )
    return [Upcoming(*row) for row in query.tuples()]


def upload_times(channel: Channel) -> list[float]:
    """Return the channel's recent upload times, oldest first."""
    return [float(t) for t in json.loads(channel.upload_history or "[]")]


PADDED_UP_TO = 1024  # larger id lists are rare (a big first feed): compile those afresh
KNOWN_CHUNK = 10_000  # ids per query, far below SQLite's 32,766 parameters


def known_ids(channel_id: int, external_ids: Iterable[str]) -> set[str]:
    """Return which of `external_ids` the channel already has.

    One query for any feed up to KNOWN_CHUNK entries.
    """
    ids = sorted(set(external_ids))
    if not ids:
        return set()
    if len(ids) > PADDED_UP_TO:
        found: set[str] = set()
        for chunk in chunked(ids, KNOWN_CHUNK):
            query: Any = Video.select(Video.external_id).where(
                (Video.channel == channel_id) & Video.external_id.in_(chunk)
            )
            found.update(external_id for (external_id,) in query.tuples())
        return found
    # Why pad: the IN list's length is part of the SQL, so padding it to a
    # power of two (repeating an id changes no answer) keeps the shapes
    # compiled() caches few; compiling took most of this query's CPU.
    slots = 16
    while slots < len(ids):
        slots *= 2
    ids += ids[-1:] * (slots - len(ids))
    sql = compiled(
        ("known_ids", slots),
        lambda: Video.select(Video.external_id).where(
            (Video.channel == channel_id) & Video.external_id.in_(ids)
        ),
        [channel_id, *ids],
    )
    return {external_id for (external_id,) in db.execute_sql(sql, [channel_id, *ids])}
