"""The JSON shapes of channels, videos and events, as the API returns them.

Times are ISO 8601 UTC strings, as in the CLI's listings (`poller.views.iso`).
The rows are typed `Any`: they carry attributes peewee adds at run time
(``channel_id``, joined and aliased columns) that its stubs do not know.
"""

from __future__ import annotations

import json
from typing import Any

from poller.views import channel_state, iso


def channel_json(channel: Any) -> dict[str, Any]:
    """Return a `Channel` row, its poll state and the caller's subscription.

    `channel` comes from `channels.channel_query`, which adds the caller's
    mode, the subscription time, and the counts as attributes.
    """
    shape = {
        **channel_state(channel),
        "video_count": channel.video_count,
        "mode": channel.mode,
        "subscribed_at": iso(channel.subscribed_at),
    }
    subscribers = getattr(channel, "subscribers", None)
    if subscribers is not None:
        shape["subscribers"] = subscribers
    return shape


def video_json(video: Any) -> dict[str, Any]:
    """Return a `Video` row and its download state."""
    return {
        "id": video.id,
        "channel_id": video.channel_id,
        "external_id": video.external_id,
        "title": video.title,
        "url": video.url,
        "published_at": iso(video.published_at),
        "discovered_at": iso(video.discovered_at),
        "backfill": video.backfill,
        "download_status": video.download_status,
        "download_error": video.download_error,
    }


def event_json(event: Any) -> dict[str, Any]:
    """Return an `Event` row; one about a video carries the video's title and URL."""
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
        "kind": event.kind,
        "channel_id": event.channel_id,
        "video_id": event.video_id,
        "video": video,
        "payload": json.loads(event.payload or "{}"),
        "created_at": iso(event.created_at),
    }
