"""/api/channels and /api/channels/{id}: subscriptions and their channels' poll state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import falcon
from dramatiq.errors import BrokerError
from peewee import JOIN, ModelSelect, fn

from poller.config import Settings
from poller.enqueue import enqueue_polls
from poller.errors import NotFound
from poller.models import FUTURE_ONLY, Channel, Subscription, User, Video
from poller.subscriptions import set_mode, subscribe, unsubscribe

from ..auth import current_user
from ..bodies import read_json
from ..params import scope_all
from ..schemas import CHANGE_MODE, SUBSCRIBE
from ..shapes import channel_json

log = logging.getLogger("api")


def channel_query(user: User, *, everything: bool = False) -> ModelSelect[Any]:
    """Return the user's channels (or every channel) with mode and counts, in one query."""
    videos = Video.select(fn.COUNT(Video.id)).where(Video.channel == Channel.id)
    columns: list[Any] = [
        Channel,
        videos.alias("video_count"),
        Subscription.mode.alias("mode"),
        Subscription.created_at.alias("subscribed_at"),
    ]
    if everything:
        others = Subscription.alias("others")
        columns.append(
            others.select(fn.COUNT(others.id))
            .where(others.channel == Channel.id)
            .alias("subscribers")
        )
    mine = (Subscription.channel == Channel.id) & (Subscription.user == user.id)
    return (
        Channel.select(*columns)
        .join(Subscription, JOIN.LEFT_OUTER if everything else JOIN.INNER, on=mine)
        .order_by(Channel.id)
        .objects()
    )


def one_channel(user: User, channel_id: int) -> Any:
    """Return one of the user's `Channel` rows, shaped for `channel_json`.

    Raises:
        NotFound: the user does not subscribe to it; another user's channel
            is as unknown as one that does not exist.
    """
    channel = channel_query(user).where(Channel.id == channel_id).first()
    if channel is None:
        raise NotFound(f"channel {channel_id} not found")
    return channel


class Channels:
    """The caller's subscriptions: list, subscribe, show, change mode, unsubscribe."""

    def __init__(
        self, settings: Settings, poll_actor: Any, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.poll_actor = poll_actor
        self.clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        everything = scope_all(req)
        query = channel_query(current_user(req), everything=everything)
        resp.media = {"items": [channel_json(channel) for channel in query]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, SUBSCRIBE)
        user = current_user(req)
        now = self.clock()
        result = subscribe(user, body["url"], body.get("mode", FUTURE_ONLY), now, self.settings)
        queued = self._first_poll(result.channel.id, now) if result.created else False
        if result.created:
            resp.status = falcon.HTTP_201
            resp.location = f"/api/channels/{result.channel.id}"
        resp.media = {**channel_json(one_channel(user, result.channel.id)), "poll_queued": queued}

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        resp.media = channel_json(one_channel(current_user(req), channel_id))

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        body = read_json(req, CHANGE_MODE)
        user = current_user(req)
        set_mode(user, channel_id, body["mode"])
        resp.media = channel_json(one_channel(user, channel_id))

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        unsubscribe(current_user(req), channel_id)
        resp.status = falcon.HTTP_204

    def _first_poll(self, channel_id: int, now: float) -> bool:
        """Queue a new subscription's first poll through the scheduler's claim.

        The subscription is committed whatever the broker says: a channel is
        due from the moment it is created, so when the send fails the next
        tick polls it. The answer reports it rather than failing the request.
        """
        try:
            return bool(
                enqueue_polls(
                    self.poll_actor, now, self.settings, due_only=False, channel_ids=[channel_id]
                )
            )
        except BrokerError as exc:
            log.warning("api: first poll of channel %s not queued: %s", channel_id, exc)
            return False
