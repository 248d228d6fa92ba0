"""/api/events: the caller's events after an id, optionally long-polled."""

from __future__ import annotations

from typing import Any

import falcon

from ..auth import current_user
from ..params import wait_seconds
from ..routes import MAX_ID
from ..waiting import wait_for

CHECK_EVERY_S = 0.25


class Events:
    """The caller's events: ``?after=<last id seen>``, ``?wait=N`` to long-poll.

    Args:
        services: the app's `Services`: listings, database, waits.
    """

    def __init__(self, services: Any) -> None:
        self.listings = services.listings
        self.database = services.database
        self.waits = services.waits

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        after = req.get_param_as_int("after", min_value=0, max_value=MAX_ID, default=0)
        wait = wait_seconds(req, allow_zero=True)
        user = current_user(req)

        def read() -> list[dict[str, Any]]:
            return self.listings.events(user, after=after)

        items = read()
        if wait and not items:
            with self.waits.hold(user.id):
                items = wait_for(lambda: read() or None, wait, CHECK_EVERY_S, self.database) or []
        resp.media = {"items": items, "last_id": items[-1]["id"] if items else after}
