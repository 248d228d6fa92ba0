"""/api/videos, /api/channels/{id}/videos and /api/videos/{id}/download."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import falcon
from peewee import ModelSelect, fn

from poller import downloads
from poller.errors import NotFound
from poller.models import DOWNLOAD_STATES, FAILED, NOT_WANTED, PENDING, UserVideoRef, Video
from poller.subscriptions import subscription_of

from ..auth import current_user
from ..pagination import page
from ..shapes import video_json

# Newest first: by publication, or by discovery for entries that carry no date.
SORT_KEY = fn.COALESCE(Video.published_at, Video.discovered_at)


class Videos:
    """Lists of videos, newest first, a page at a time."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List the caller's references: their feed across every channel."""
        query = (
            Video.select(Video, SORT_KEY.alias("sort_key"))
            .join(UserVideoRef)
            .where(UserVideoRef.user == current_user(req))
        )
        self._page(req, resp, query)

    def on_get_channel(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        """List one of the caller's channels' videos."""
        subscription_of(current_user(req), channel_id)
        query = Video.select(Video, SORT_KEY.alias("sort_key")).where(Video.channel == channel_id)
        self._page(req, resp, query)

    @staticmethod
    def _page(req: falcon.Request, resp: falcon.Response, query: ModelSelect[Any]) -> None:
        status = req.get_param("status")
        if status is not None:
            if status not in DOWNLOAD_STATES:
                raise falcon.HTTPInvalidParam(
                    f"the states are {', '.join(DOWNLOAD_STATES)}", "status"
                )
            query = query.where(Video.download_status == status)
        rows, following = page(query, SORT_KEY, Video.id, req)
        resp.media = {"items": [video_json(video) for video in rows], "next": following}


class Downloads:
    """Downloads on demand of videos the caller has a reference to."""

    def __init__(self, download_actor: Any, clock: Callable[[], float] = time.time) -> None:
        self.download_actor = download_actor
        self.clock = clock

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: int) -> None:
        mine = UserVideoRef.select().where(
            (UserVideoRef.user == current_user(req)) & (UserVideoRef.video == video_id)
        )
        if not mine.exists():
            raise NotFound(f"video {video_id} not found")
        # Twice: a download that fails between our two reads is wanted again.
        for _ in range(2):
            if downloads.request(video_id, self.clock()):
                # Marked first, sent second: if the send fails (503) the video
                # stays pending and the tick's sweep re-sends it.
                self.download_actor.send(video_id)
                resp.status = falcon.HTTP_202
                resp.media = {"queued": True, "download_status": PENDING}
                return
            status = Video.get_by_id(video_id).download_status
            if status == PENDING:  # wanted already; its message is queued
                resp.status = falcon.HTTP_202
                resp.media = {"queued": False, "download_status": PENDING}
                return
            if status not in (NOT_WANTED, FAILED):
                break
        raise falcon.HTTPConflict(
            title="Already downloading or downloaded",
            description=f"video {video_id} is {status}",
        )
