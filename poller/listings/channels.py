"""Channels as readers see them: one, a user's, every one; a poll's outcome."""

from __future__ import annotations

from typing import Any

from peewee import JOIN, ModelSelect, Value, fn

from ..errors import NotFound
from ..models import Channel, Host, PushSubscription, Subscription, User, Video
from .shapes import channel_json, video_json

Marks = tuple[float | None, float | None]

# A channel's push subscription, read with it (`shapes.push_json`).
PUSH_COLUMNS = [
    getattr(PushSubscription, name).alias(f"push_{name}")
    for name in (
        "state",
        "requested_mode",
        "healthy",
        "lease_until",
        "last_push_at",
        "pushes",
        "dropped",
        "last_error",
    )
]


def channel_query(user: User | None, *, everything: bool = False) -> ModelSelect[Any]:
    """Return channels with the reader's mode, include and the counts, in one query.

    Args:
        user: the reader; their channels only, unless `everything`. None
            reads every channel, with no mode (the CLI's listing).
        everything: every channel, with its subscriber count.
    """
    videos = Video.select(fn.COUNT(Video.id)).where(Video.channel == Channel.id)
    columns: list[Any] = [
        Channel,
        videos.alias("video_count"),
        Host.paused_until.alias("host_paused_until"),
        Host.degraded_since.alias("host_degraded_since"),
        *PUSH_COLUMNS,
    ]
    if user is None:
        everything = True
        columns += [
            Value(None).alias("mode"),
            Value(None).alias("subscribed_at"),
            Value(None).alias("subscription_paused_at"),
            Value(None).alias("include"),
        ]
    else:
        columns += [
            Subscription.mode.alias("mode"),
            Subscription.created_at.alias("subscribed_at"),
            Subscription.paused_at.alias("subscription_paused_at"),
            Subscription.include.alias("include"),
        ]
    if everything:
        others = Subscription.alias("others")
        columns.append(
            others.select(fn.COUNT(others.id))
            .where(others.channel == Channel.id)
            .alias("subscribers")
        )
    query = (
        Channel.select(*columns)
        .join(Host, JOIN.LEFT_OUTER, on=(Channel.host == Host.id))
        .switch(Channel)
        .join(PushSubscription, JOIN.LEFT_OUTER, on=(PushSubscription.channel == Channel.id))
    )
    if user is not None:
        mine = (Subscription.channel == Channel.id) & (Subscription.user == user.id)
        query = query.switch(Channel).join(
            Subscription, JOIN.LEFT_OUTER if everything else JOIN.INNER, on=mine
        )
    return query.order_by(Channel.id).objects()


def channels(user: User | None, *, everything: bool = False) -> list[dict[str, Any]]:
    """Return the user's channels (or every channel), oldest first."""
    return [channel_json(row) for row in channel_query(user, everything=everything)]


def channel(user: User, channel_id: int) -> dict[str, Any]:
    """Return one of the user's channels.

    Raises:
        NotFound: the user does not subscribe to it; another user's channel
            is as unknown as one that does not exist.
    """
    row = channel_query(user).where(Channel.id == channel_id).first()
    if row is None:
        raise NotFound(f"channel {channel_id} not found")
    return channel_json(row)


def subscribed_channel_ids(user: User) -> list[int]:
    """Return the ids of the channels the user subscribes to."""
    query: Any = Subscription.select(Subscription.channel).where(Subscription.user == user.id)
    return [channel_id for (channel_id,) in query.tuples()]


def poll_marks(user: User, channel_id: int) -> Marks:
    """Return when one of the user's channels last ended a poll.

    Returns:
        (last_polled_at, last_error_at): a poll that ends changes one of them.

    Raises:
        NotFound: the user does not subscribe to it.
    """
    mine = (Subscription.channel == Channel.id) & (Subscription.user == user.id)
    query: Any = (
        Channel.select(Channel.last_polled_at, Channel.last_error_at)
        .join(Subscription, on=mine)
        .where(Channel.id == channel_id)
    )
    found = query.tuples().first()
    if found is None:
        raise NotFound(f"channel {channel_id} not found")
    return found[0], found[1]


def poll_outcome_since(channel_id: int, before: Marks) -> dict[str, Any] | None:
    """Return the outcome of a poll that ended after `before` was noted, else None.

    Raises:
        NotFound: the channel was deleted meanwhile.
    """
    row = Channel.get_or_none(Channel.id == channel_id)
    if row is None:
        raise NotFound(f"channel {channel_id} not found")
    if (row.last_polled_at, row.last_error_at) == before:
        return None
    return poll_outcome(row)


def poll_outcome(row: Channel) -> dict[str, Any]:
    """Return the outcome of a channel's last poll, with the videos it announced.

    `last_outcome` is written with the poll's other results in one UPDATE, so
    it is the outcome of the poll that set `last_polled_at`/`last_error_at`.
    """
    recorded = row.last_outcome or ""
    if recorded == "failed":
        return {"outcome": "failed", "videos": [], "error": row.last_error}
    if recorded.startswith("new="):
        # The poll stamps what it inserts with its own `now`, which is also
        # the channel's `last_polled_at`; back catalog is not news.
        announced = (
            Video.select()
            .where(
                (Video.channel == row.id)
                & (Video.discovered_at == row.last_polled_at)
                & ~Video.backfill
            )
            .order_by(Video.id)
        )
        return {"outcome": "new", "videos": [video_json(v) for v in announced], "error": None}
    return {"outcome": recorded or None, "videos": [], "error": None}


def health_counts() -> dict[str, int]:
    """Return how many subscribed channels are ok, failing and paused (one query).

    A paused channel (every subscriber paused it) counts as paused only.
    """
    failing = Channel.consecutive_failures > 0
    paused = Channel.paused_at.is_null(False)
    query: Any = (
        Channel.select(paused.alias("paused"), failing.alias("failing"), fn.COUNT(Channel.id))
        .where(Channel.next_poll_at.is_null(False) | paused)  # still subscribed
        .group_by(paused, failing)
        .tuples()
    )
    counts = {"ok": 0, "failing": 0, "paused": 0}
    for is_paused, is_failing, count in query:
        counts["paused" if is_paused else "failing" if is_failing else "ok"] += count
    return counts
