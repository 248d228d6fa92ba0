"""Read-only views of the catalog for the CLI's listings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from peewee import JOIN, fn

from .models import Channel, Event, Subscription, User, Video


def iso(epoch: float | None) -> str | None:
    """Return an epoch time as ISO 8601 UTC (None, and a time past year 9999, give None)."""
    if epoch is None:
        return None
    try:
        when = datetime.fromtimestamp(epoch, UTC)
    except (ValueError, OverflowError, OSError):
        # A stored time no datetime can hold (a row written before dates were
        # checked at the edge) must not fail a whole listing.
        return None
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def channel_state(channel: Channel) -> dict[str, Any]:
    """Return a channel and its poll state as plain data."""
    return {
        "id": channel.id,
        "kind": channel.kind,
        "url": channel.feed_url,
        "title": channel.title,
        "last_polled_at": iso(channel.last_polled_at),
        "next_poll_at": iso(channel.next_poll_at),
        "interval_s": round(channel.interval_s),
        "consecutive_failures": channel.consecutive_failures,
        "last_error": channel.last_error,
        "last_error_at": iso(channel.last_error_at),
        "last_outcome": channel.last_outcome,
        "cataloged": channel.cataloged_at is not None,
        "catalog_error": channel.catalog_error,
    }


def channel_rows() -> list[dict[str, Any]]:
    """Return every channel with its poll state, subscriber and video counts."""
    subscribers = Subscription.select(fn.COUNT(Subscription.id)).where(
        Subscription.channel == Channel.id
    )
    videos = Video.select(fn.COUNT(Video.id)).where(Video.channel == Channel.id)
    # Rows carry the two counts as extra attributes, hence Any.
    query: Any = Channel.select(
        Channel, subscribers.alias("subscribers"), videos.alias("videos")
    ).order_by(Channel.id)
    return [{**channel_state(c), "subscribers": c.subscribers, "videos": c.videos} for c in query]


def video_rows(channel_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Return videos, newest first, optionally of one channel."""
    query = Video.select().order_by(Video.published_at.desc(nulls="LAST"), Video.id.desc())
    if channel_id is not None:
        query = query.where(Video.channel == channel_id)
    return [
        {
            "id": v.id,
            "channel_id": v.channel_id,
            "external_id": v.external_id,
            "title": v.title,
            "url": v.url,
            "published_at": iso(v.published_at),
            "status": v.download_status,
            "download_status": v.download_status,
            "backfill": v.backfill,
        }
        for v in query.limit(limit)
    ]


def event_rows(user: User | None, limit: int) -> list[dict[str, Any]]:
    """Return events, newest first, optionally of one user."""
    query = (
        Event.select(Event, User.name, Video.title)
        .join(User)
        .switch(Event)
        .join(Video, JOIN.LEFT_OUTER)
        .order_by(Event.id.desc())
    )
    if user is not None:
        query = query.where(Event.user == user)
    return [
        {
            "id": e.id,
            "user": e.user.name,
            "kind": e.kind,
            "channel_id": e.channel_id,
            "video_id": e.video_id,
            "title": e.video.title if e.video_id and e.video is not None else None,
            "payload": json.loads(e.payload or "{}"),
            "created_at": iso(e.created_at),
        }
        for e in query.limit(limit)
    ]
