"""/api/channels/poll and /api/channels/{id}/poll: polls on demand, through the claim."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import falcon

from poller.config import Settings
from poller.enqueue import enqueue_polls
from poller.errors import NotFound
from poller.models import Channel, Subscription, Video
from poller.subscriptions import subscription_of

from ..auth import current_user
from ..params import scope_all, wait_seconds
from ..shapes import video_json
from ..waiting import wait_for

CHECK_EVERY_S = 0.2  # how often a waiting request looks at the channel

Marks = tuple[float | None, float | None]


class Polls:
    """Queue polls now; they go through the same claim as the scheduler's tick.

    A channel whose poll is already queued or running keeps its claim, so
    asking again never puts a second message on the queue.
    """

    def __init__(
        self, settings: Settings, poll_actor: Any, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.poll_actor = poll_actor
        self.clock = clock

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        everything = scope_all(req)
        ids = None
        if not everything:
            mine: Any = Subscription.select(Subscription.channel).where(
                Subscription.user == current_user(req)
            )
            ids = [channel_id for (channel_id,) in mine.tuples()]
        sent = enqueue_polls(
            self.poll_actor, self.clock(), self.settings, due_only=False, channel_ids=ids
        )
        resp.status = falcon.HTTP_202
        resp.media = {"enqueued": sent}

    def on_post_channel(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        wait = wait_seconds(req, allow_zero=False)
        subscription_of(current_user(req), channel_id)
        # A poll that ends writes last_polled_at or last_error_at. Noting them
        # before the claim catches the end of our poll and, when one was
        # already queued or running (queued: false), the end of that one.
        before = _marks(channel_id)
        queued = bool(
            enqueue_polls(
                self.poll_actor,
                self.clock(),
                self.settings,
                due_only=False,
                channel_ids=[channel_id],
            )
        )
        if wait is None:
            resp.status = falcon.HTTP_202
            resp.media = {"queued": queued}
            return
        channel = wait_for(lambda: _ended(channel_id, before), wait, CHECK_EVERY_S)
        if channel is None:
            resp.status = falcon.HTTP_202
            resp.media = {"queued": queued, "outcome": None}
            return
        resp.media = {"queued": queued, **outcome(channel)}


def _marks(channel_id: int) -> Marks:
    row = Channel.select(Channel.last_polled_at, Channel.last_error_at).where(
        Channel.id == channel_id
    )
    found = row.tuples().first()
    if found is None:
        raise NotFound(f"channel {channel_id} not found")
    return found[0], found[1]


def _ended(channel_id: int, before: Marks) -> Channel | None:
    """Return the channel once a poll ended after `before` was noted."""
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:  # deleted while we waited
        raise NotFound(f"channel {channel_id} not found")
    if (channel.last_polled_at, channel.last_error_at) != before:
        return channel
    return None


def outcome(channel: Channel) -> dict[str, Any]:
    """Return the outcome of a channel's last poll, with the videos it announced.

    `last_outcome` is written with the poll's other results in one UPDATE, so
    it is the outcome of the poll that set `last_polled_at`/`last_error_at`.
    """
    recorded = channel.last_outcome or ""
    if recorded == "failed":
        return {"outcome": "failed", "videos": [], "error": channel.last_error}
    if recorded.startswith("new="):
        # The poll stamps what it inserts with its own `now`, which is also
        # the channel's `last_polled_at`; back catalog is not news.
        announced = (
            Video.select()
            .where(
                (Video.channel == channel.id)
                & (Video.discovered_at == channel.last_polled_at)
                & ~Video.backfill
            )
            .order_by(Video.id)
        )
        return {"outcome": "new", "videos": [video_json(v) for v in announced], "error": None}
    return {"outcome": recorded or None, "videos": [], "error": None}
