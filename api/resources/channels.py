"""/api/channels and /api/channels/{id}: subscriptions and their channels' poll state."""

from __future__ import annotations

import logging
from typing import Any

import falcon
from dramatiq.errors import BrokerError

from ..auth import current_user
from ..bodies import read_json
from ..params import scope_all
from ..schemas import CHANGE_MODE, SUBSCRIBE

log = logging.getLogger("api")


class Channels:
    """The caller's subscriptions: list, subscribe, show, change mode or pause, unsubscribe.

    Args:
        services: the app's `Services`: listings, subscriptions, queues, clock.
    """

    def __init__(self, services: Any) -> None:
        self.listings = services.listings
        self.subscriptions = services.subscriptions
        self.queues = services.queues
        self.clock = services.clock
        self.settings = services.settings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        everything = scope_all(req)
        items = self.listings.channels(current_user(req), everything=everything)
        resp.media = {"items": items}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, SUBSCRIBE)
        user = current_user(req)
        now = self.clock()
        # No mode: future_only for a new subscription, unchanged for an old one.
        result = self.subscriptions.subscribe(
            user, body["url"], body.get("mode"), now, self.settings, body.get("include")
        )
        queued = first_poll(self.queues, result.channel.id, now) if result.created else False
        if result.created:
            resp.status = falcon.HTTP_201
            resp.location = f"/api/channels/{result.channel.id}"
        resp.media = {
            **self.listings.channel(user, result.channel.id),
            "poll_queued": queued,
            "mode_changed": result.mode_changed,
        }

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        resp.media = self.listings.channel(current_user(req), channel_id)

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        body = read_json(req, CHANGE_MODE)
        if not body:
            raise falcon.HTTPUnprocessableEntity(
                title="Invalid body", description="name a mode, an include, or both"
            )
        user = current_user(req)
        if "include" in body:
            self.subscriptions.set_include(user, channel_id, body["include"])
        if "mode" in body:
            self.subscriptions.set_mode(user, channel_id, body["mode"])
        if "paused" in body:
            change = self.subscriptions.pause if body["paused"] else self.subscriptions.resume
            change(user, channel_id, self.clock())
        resp.media = self.listings.channel(user, channel_id)

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        self.subscriptions.unsubscribe(current_user(req), channel_id)
        resp.status = falcon.HTTP_204


def first_poll(queues: Any, channel_id: int, now: float) -> bool:
    """Queue a new subscription's first poll through the scheduler's claim.

    The subscription is committed whatever the broker says: a channel is
    due from the moment it is created, so when the send fails the next
    tick polls it. The answer reports it rather than failing the request.
    """
    try:
        return bool(queues.poll([channel_id], now))
    except BrokerError as exc:
        log.warning("api: first poll of channel %s not queued: %s", channel_id, exc)
        return False
