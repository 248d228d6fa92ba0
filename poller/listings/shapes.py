"""The JSON shapes of users' channels, videos and events: one per thing.

The CLI's `--json` and the API print these same dictionaries. Times are ISO
8601 UTC strings. The rows are typed `Any`: they carry attributes peewee adds
at run time (``channel_id``, joined and aliased columns) that its stubs do
not know.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..kinds import include_from_json


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


def channel_json(channel: Any) -> dict[str, Any]:
    """Return a channel, its poll state and the reader's subscription.

    `channel` comes from `channels.channel_query`, which adds the reader's
    mode and subscription time (None without a reader or a subscription),
    the video count and, listing every channel, the subscriber count.
    """
    shape = {
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
        "warning": channel.warning,
        "cataloged": channel.cataloged_at is not None,
        "catalog_error": channel.catalog_error,
        "video_count": channel.video_count,
        "mode": channel.mode,
        "include": _include(getattr(channel, "include", None)),
        "subscribed_at": iso(channel.subscribed_at),
    }
    # Its host's pause (a bot check, a 429) lasts until a probe succeeds; a
    # degraded host fails most of its feeds at once (a platform outage).
    paused_until = getattr(channel, "host_paused_until", None)
    shape["paused"] = paused_until is not None
    shape["paused_until"] = iso(paused_until)
    shape["degraded"] = getattr(channel, "host_degraded_since", None) is not None
    # The reader's own pause, and whether every subscriber paused it (not polled).
    shape["subscription_paused"] = getattr(channel, "subscription_paused_at", None) is not None
    shape["polls_paused"] = channel.paused_at is not None
    subscribers = getattr(channel, "subscribers", None)
    if subscribers is not None:
        shape["subscribers"] = subscribers
    shape["push"] = push_json(channel)
    return shape


def push_json(channel: Any) -> dict[str, Any] | None:
    """Return a channel's WebSub push state (its ``push_*`` columns), None without one."""
    if getattr(channel, "push_state", None) is None:
        return None
    return {
        "state": channel.push_state,
        "requested": channel.push_requested_mode,
        "healthy": bool(channel.push_healthy),
        "lease_until": iso(channel.push_lease_until),
        "last_push_at": iso(channel.push_last_push_at),
        "pushes": channel.push_pushes,
        "dropped": channel.push_dropped,
        "last_error": channel.push_last_error,
    }


def video_json(video: Any) -> dict[str, Any]:
    """Return a video, its kind (`media_type`) and its download state."""
    return {
        "id": video.id,
        "channel_id": video.channel_id,
        "external_id": video.external_id,
        "title": video.title,
        "url": video.url,
        "published_at": iso(video.published_at),
        "discovered_at": iso(video.discovered_at),
        "backfill": video.backfill,
        "media_type": video.media_type,
        "available_at": iso(video.available_at),
        "download_status": video.download_status,
        "download_error": video.download_error,
    }


def event_json(event: Any) -> dict[str, Any]:
    """Return an event and whose it is; one about a video carries the video."""
    video = None
    if event.video_id is not None:
        video = {
            "id": event.video_id,
            "title": event.video.title,
            "url": event.video.url,
            "published_at": iso(event.video.published_at),
        }
    return {
        "id": event.id,
        "user": event.user.name,
        "kind": event.kind,
        "channel_id": event.channel_id,
        "video_id": event.video_id,
        "video": video,
        "payload": json.loads(event.payload or "{}"),
        "created_at": iso(event.created_at),
    }


def _include(stored: str | None) -> list[str] | None:
    """Return a subscription's `include` as a list (None: no subscription read)."""
    return None if stored is None else list(include_from_json(stored))
