"""/api/videos, /api/channels/{id}/videos and /api/videos/{id}/download."""

from __future__ import annotations

from typing import Any

import falcon

from poller.listings import DOWNLOAD_STATES, FAILED, NOT_WANTED, PENDING

from .. import pagination
from ..auth import current_user


class Videos:
    """Lists of videos, newest first, a page at a time.

    Args:
        listings: the read layer (`poller.listings`).
    """

    def __init__(self, listings: Any) -> None:
        self.listings = listings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List the caller's feed across the channels they subscribe to."""
        self._page(req, resp, None)

    def on_get_channel(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        """List one of the caller's channels' videos."""
        self._page(req, resp, channel_id)

    def _page(self, req: falcon.Request, resp: falcon.Response, channel_id: int | None) -> None:
        status = req.get_param("status")
        if status is not None and status not in DOWNLOAD_STATES:
            raise falcon.HTTPInvalidParam(f"the states are {', '.join(DOWNLOAD_STATES)}", "status")
        page = self.listings.videos(
            current_user(req),
            channel_id=channel_id,
            status=status,
            limit=pagination.limit(req),
            after=pagination.after(req),
        )
        following = None if page.next is None else pagination.encode(page.next)
        resp.media = {"items": page.items, "next": following}


class Downloads:
    """Downloads on demand of videos in the caller's feed.

    Args:
        services: the app's `Services`: listings, downloads, queues, clock.
    """

    def __init__(self, services: Any) -> None:
        self.listings = services.listings
        self.downloads = services.downloads
        self.queues = services.queues
        self.clock = services.clock

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: int) -> None:
        resp.status = falcon.HTTP_202
        resp.media = request_download(self, current_user(req), video_id)


def request_download(services: Any, user: Any, video_id: int) -> dict[str, Any]:
    """Mark one of the user's videos wanted and queue its download.

    Args:
        services: has listings, downloads, queues and clock.

    Returns:
        ``{"queued": …, "download_status": "pending"}``; queued is False
        when it was wanted already.

    Raises:
        NotFound: the video is not in the user's feed.
        falcon.HTTPConflict: it is downloading or downloaded already.
    """
    services.listings.user_video(user, video_id)  # 404 unless theirs
    # Twice: a download that fails between our two reads is wanted again.
    for _ in range(2):
        if services.downloads.request(video_id, services.clock()):
            # Marked first, sent second: if the send fails (503) the video
            # stays pending and the tick's sweep re-sends it.
            services.queues.download(video_id)
            return {"queued": True, "download_status": PENDING}
        status = services.listings.video(video_id)["download_status"]
        if status == PENDING:  # wanted already; its message is queued
            return {"queued": False, "download_status": PENDING}
        if status not in (NOT_WANTED, FAILED):
            break
    raise falcon.HTTPConflict(
        title="Already downloading or downloaded",
        description=f"video {video_id} is {status}",
    )
