"""The read layer: every listing and detail the CLI and the API show.

One query and one JSON shape per thing, so the CLI's `--json` and the API
cannot disagree. All reads of the catalog for people live here; the poll's
own reads are in `poller.reads`.
"""

from __future__ import annotations

from .channels import (
    Marks,
    channel,
    channels,
    health_counts,
    poll_marks,
    poll_outcome,
    poll_outcome_since,
    subscribed_channel_ids,
)
from .events import events
from .hosts import host_json, hosts
from .notifications import notification_targets
from .polls import channel_detail, channel_polls
from .polls import health as channel_health
from .shapes import channel_json, event_json, iso, video_json
from .users import only_user, user_by_id, user_for_token, user_json, user_named, users
from .videos import (
    DOWNLOAD_STATES,
    FAILED,
    NOT_WANTED,
    PENDING,
    Position,
    VideoPage,
    user_video,
    video,
    videos,
)

__all__ = [
    "host_json",
    "notification_targets",
    "hosts",
    "DOWNLOAD_STATES",
    "FAILED",
    "NOT_WANTED",
    "PENDING",
    "Marks",
    "Position",
    "VideoPage",
    "channel",
    "channel_detail",
    "channel_health",
    "channel_json",
    "channel_polls",
    "channels",
    "event_json",
    "health_counts",
    "events",
    "iso",
    "only_user",
    "poll_marks",
    "poll_outcome",
    "poll_outcome_since",
    "subscribed_channel_ids",
    "user_by_id",
    "user_for_token",
    "user_json",
    "user_named",
    "users",
    "user_video",
    "video",
    "video_json",
    "videos",
]
