"""The SQL include condition agrees with `kinds.wants` on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import time

import pytest

from poller import kinds
from poller.include_filter import included
from poller.models import Channel, Subscription, User, Video

INCLUDES = [
    ("video",),
    ("short",),
    ("live",),
    ("video", "live"),
    ("video", "short", "live"),
    ("short", "live"),
]


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.usefixtures("conn")
def test_the_sql_condition_takes_what_wants_takes(database_url: str) -> None:
    now = time.time()
    channel = Channel.create(kind="youtube", feed_url="http://127.0.0.1/c", created_at=now)
    for n, include in enumerate(INCLUDES):
        user = User.create(name=f"u{n}", token_hash=f"h{n}", created_at=now)
        Subscription.create(
            user=user, channel=channel, created_at=now, include=kinds.include_to_json(include)
        )
    Video.insert_many(
        {
            "channel": channel,
            "external_id": media_type,
            "url": f"http://127.0.0.1/{media_type}",
            "discovered_at": now,
            "updated_at": now,
            "media_type": media_type,
        }
        for media_type in kinds.MEDIA_TYPES
    ).execute()
    pairs = set(
        Subscription.select(Subscription.include, Video.media_type)
        .join(Video, on=Video.channel == Subscription.channel)
        .where(included())
        .tuples()
    )
    expected = {
        (kinds.include_to_json(include), media_type)
        for include, media_type in itertools.product(INCLUDES, kinds.MEDIA_TYPES)
        if kinds.wants(include, media_type)
    }
    assert pairs == expected
