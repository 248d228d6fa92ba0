"""/api/events: the caller's events after an id, optionally long-polled."""

from __future__ import annotations

from typing import Any

import falcon
from peewee import JOIN

from poller.models import Event, User, Video

from ..auth import current_user
from ..params import wait_seconds
from ..routes import MAX_ID
from ..shapes import event_json
from ..waiting import wait_for

PAGE = 100
CHECK_EVERY_S = 0.25


def events_after(user: User, after: int) -> list[dict[str, Any]]:
    """Return up to PAGE of the user's events with an id above `after`, oldest first."""
    query = (
        Event.select(Event, Video)
        .join(Video, JOIN.LEFT_OUTER)
        .where((Event.user == user) & (Event.id > after))
        .order_by(Event.id)
        .limit(PAGE)
    )
    return [event_json(event) for event in query]


class Events:
    """The caller's events: ``?after=<last id seen>``, ``?wait=N`` to long-poll."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        after = req.get_param_as_int("after", min_value=0, max_value=MAX_ID, default=0)
        wait = wait_seconds(req, allow_zero=True)
        user = current_user(req)
        if wait:
            items = wait_for(lambda: events_after(user, after) or None, wait, CHECK_EVERY_S) or []
        else:
            items = events_after(user, after)
        resp.media = {"items": items, "last_id": items[-1]["id"] if items else after}
