"""/api/channels/poll and /api/channels/{id}/poll: polls on demand, through the claim."""

from __future__ import annotations

from typing import Any

import falcon

from ..auth import current_user
from ..params import scope_all, wait_seconds
from ..waiting import wait_for

CHECK_EVERY_S = 0.2  # how often a waiting request looks at the channel


class Polls:
    """Queue polls now; they go through the same claim as the scheduler's tick.

    A channel whose poll is already queued or running keeps its claim, so
    asking again never puts a second message on the queue.

    Args:
        services: the app's `Services`: listings, queues, database, clock, waits.
    """

    def __init__(self, services: Any) -> None:
        self.listings = services.listings
        self.queues = services.queues
        self.database = services.database
        self.clock = services.clock
        self.waits = services.waits

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        everything = scope_all(req)
        ids = None if everything else self.listings.subscribed_channel_ids(current_user(req))
        sent = self.queues.poll(ids, self.clock())
        resp.status = falcon.HTTP_202
        resp.media = {"enqueued": sent}

    def on_post_channel(self, req: falcon.Request, resp: falcon.Response, channel_id: int) -> None:
        wait = wait_seconds(req, allow_zero=False)
        user = current_user(req)
        # A poll that ends writes last_polled_at or last_error_at. Noting them
        # before the claim catches the end of our poll and, when one was
        # already queued or running (queued: false), the end of that one.
        before = self.listings.poll_marks(user, channel_id)
        if wait is None:
            queued = bool(self.queues.poll([channel_id], self.clock()))
            resp.status = falcon.HTTP_202
            resp.media = {"queued": queued}
            return
        with self.waits.hold(user.id):  # a 429 queues nothing
            queued = bool(self.queues.poll([channel_id], self.clock()))
            outcome = wait_for(
                lambda: self.listings.poll_outcome_since(channel_id, before),
                wait,
                CHECK_EVERY_S,
                self.database,
            )
        if outcome is None:
            resp.status = falcon.HTTP_202
            resp.media = {"queued": queued, "outcome": None}
            return
        resp.media = {"queued": queued, **outcome}
