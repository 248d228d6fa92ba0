"""Videos as readers see them: a user's, a channel's, a page at a time.

One order everywhere, the CLI's and the API's: newest first by publication,
videos without a date last, ties by id (newest first). A page ends at a
`Position`, the (published_at, id) of its last video; the next page starts
after it, so a video inserted meanwhile sorts either before it (a fresh first
page shows it) or after it (a later page does): nothing repeats or is
skipped, as an OFFSET would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import ModelSelect

from ..errors import NotFound
from ..models import (
    DOWNLOAD_STATES,
    FAILED,
    NOT_WANTED,
    PENDING,
    Subscription,
    User,
    UserVideoRef,
    Video,
)
from .shapes import video_json

# The download states, for callers that must not import the models.
__all__ = [
    "DOWNLOAD_STATES",
    "FAILED",
    "NOT_WANTED",
    "PENDING",
    "Position",
    "VideoPage",
    "user_video",
    "video",
    "videos",
]

Position = tuple[float | None, int]  # (published_at, id) of the last video of a page


@dataclass(frozen=True)
class VideoPage:
    """One page of videos and where the next one starts (None: this is the last)."""

    items: list[dict[str, Any]]
    next: Position | None


def videos(
    user: User | None,
    *,
    channel_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    after: Position | None = None,
) -> VideoPage:
    """Return a page of videos, newest first.

    Args:
        user: the reader: their feed, the videos they hold a reference to
            in the channels they still subscribe to. None: every video.
        channel_id: only this channel's videos (one the user subscribes to).
        status: only videos in this download state.
        limit: at most this many.
        after: the position the previous page ended at.

    Raises:
        NotFound: the user does not subscribe to `channel_id`.
    """
    query = Video.select()
    if channel_id is not None:
        if user is not None:
            _check_subscribed(user, channel_id)
        query = query.where(Video.channel == channel_id)
    elif user is not None:
        query = _feed(query, user)
    if status is not None:
        query = query.where(Video.download_status == status)
    if after is not None:
        query = query.where(_after(after))
    order = (Video.published_at.desc(nulls="LAST"), Video.id.desc())
    rows = list(query.order_by(*order).limit(limit + 1))
    if len(rows) <= limit:
        return VideoPage([video_json(v) for v in rows], None)
    rows = rows[:limit]
    return VideoPage([video_json(v) for v in rows], (rows[-1].published_at, rows[-1].id))


def user_video(user: User, video_id: int) -> dict[str, Any]:
    """Return a video of the user's feed.

    Raises:
        NotFound: it is not in their feed (another user's, or a channel they left).
    """
    row = _feed(Video.select(), user).where(Video.id == video_id).first()
    if row is None:
        raise NotFound(f"video {video_id} not found")
    return video_json(row)


def video(video_id: int) -> dict[str, Any]:
    """Return a video.

    Raises:
        NotFound: no such video.
    """
    row = Video.get_or_none(Video.id == video_id)
    if row is None:
        raise NotFound(f"video {video_id} not found")
    return video_json(row)


def _feed(query: ModelSelect[Any], user: User) -> ModelSelect[Any]:
    """Narrow `query` to the user's references in channels they subscribe to.

    A reference outlives an unsubscription (subscribing again reuses it), so
    the subscription is what says the video is still theirs to see.
    """
    return query.join(
        UserVideoRef, on=(UserVideoRef.video == Video.id) & (UserVideoRef.user == user.id)
    ).join(
        Subscription,
        on=(Subscription.channel == Video.channel) & (Subscription.user == user.id),
    )


def _check_subscribed(user: User, channel_id: int) -> None:
    mine = Subscription.select().where(
        (Subscription.user == user.id) & (Subscription.channel == channel_id)
    )
    if not mine.exists():
        raise NotFound(f"channel {channel_id} not found")


def _after(position: Position) -> Any:
    """Return the condition "sorts after `position`" in the listing's order."""
    published, video_id = position
    if published is None:  # among the undated, which come last
        return Video.published_at.is_null() & (Video.id < video_id)
    return (
        (Video.published_at < published)
        | ((Video.published_at == published) & (Video.id < video_id))
        | Video.published_at.is_null()
    )
