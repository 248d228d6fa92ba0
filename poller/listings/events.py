"""Events as readers see them: after an id, newest or oldest first, one user's."""

from __future__ import annotations

from typing import Any

from peewee import JOIN

from ..models import Event, User, Video
from .shapes import event_json

PAGE = 100


def events(
    user: User | None,
    *,
    after: int = 0,
    newest_first: bool = False,
    limit: int = PAGE,
) -> list[dict[str, Any]]:
    """Return events with an id above `after`, one user's or everyone's.

    Args:
        user: whose events; None for every user's (the CLI's listing).
        after: the last id the reader has seen.
        newest_first: the CLI lists the latest first; the API oldest first,
            so that a reader passes the last id on as `after`.
        limit: at most this many.
    """
    # Every column of the joined rows the shape reads: a join that selects
    # only some would hand the event a video without an id (and so
    # `video_id` None), as the CLI's listing once printed.
    query = (
        Event.select(
            Event, User.id, User.name, Video.id, Video.title, Video.url, Video.published_at
        )
        .join(User)
        .switch(Event)
        .join(Video, JOIN.LEFT_OUTER)
        .where(Event.id > after)
        .order_by(Event.id.desc() if newest_first else Event.id)
        .limit(limit)
    )
    if user is not None:
        query = query.where(Event.user == user.id)
    return [event_json(event) for event in query]
