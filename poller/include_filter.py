"""The SQL form of `kinds.wants`: which subscriptions take which videos.

References, events and download marks are written with INSERT … SELECT over
a channel's subscriptions joined to its new videos (poller.store); this adds
one condition to that join, so `include` costs no query of its own.
"""

from __future__ import annotations

import json
from functools import reduce
from operator import or_

from peewee import Expression

from .kinds import INCLUDED_BY
from .models import Subscription, Video


def included() -> Expression:
    """Return the condition "this subscription's include takes this video".

    `Subscription.include` is a JSON list of names, so a kind is in it when
    its quoted name is (``"video"`` cannot match inside ``"videos"`` or the
    like, since every name is quoted). A media type taken by nobody
    (members-only) adds no branch and so never matches.
    """
    branches = [
        (Video.media_type == media_type)
        & reduce(or_, [Subscription.include.contains(json.dumps(kind)) for kind in taken_by])
        for media_type, taken_by in INCLUDED_BY.items()
        if taken_by
    ]
    return reduce(or_, branches)
