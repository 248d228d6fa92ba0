"""/api/channels/{id}/polls: a channel's last polls."""

from __future__ import annotations

from typing import Any

import falcon

from ..auth import current_user


class ChannelPolls:
    """The caller's channel's poll history, newest first (the last 50 polls).

    Args:
        listings: the read layer (`poller.listings`).
    """

    def __init__(self, listings: Any) -> None:
        self.listings = listings

    def on_get(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        resp.media = {"items": self.listings.channel_polls(current_user(req), channel_id)}
