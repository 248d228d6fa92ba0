"""The bench's channel rows: seed them, make them due, count finished polls.

Models are imported inside the functions: a scenario's world configures the
database before anything binds to it (see `world`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tests.support.synthetic import channel_id, video_id

if TYPE_CHECKING:
    from .world import World


def populate(world: World, count: int | None = None, *, subscribers: int = 1) -> list[int]:
    """Insert `count` already-cataloged channels that match the feed server's.

    Each has the server's first uploads stored, so its next poll finds
    nothing new unless the server gains an upload. Returns channel ids in
    feed-server order (row i is server channel i).
    """
    from peewee import chunked

    from poller.models import FUTURE_ONLY, Channel, Subscription, User, Video, db
    from poller.sources import youtube

    count = world.channels if count is None else count
    now = time.time()
    week_ago = now - 7 * 86400
    with db.atomic():
        users = []
        for n in range(subscribers):
            users.append(
                User.insert(
                    name=f"bench{n}", token_hash=uuid.uuid4().hex, created_at=week_ago
                ).execute()
            )
        rows = [
            {
                "kind": "youtube",
                "external_id": channel_id(n),
                "feed_url": youtube.canonical_feed_url(channel_id(n)),
                "created_at": week_ago,
                "last_polled_at": now - 3600,
                "next_poll_at": now + 86400,
                "claimed_until": 0,
                "interval_s": 3600,
                "cataloged_at": now - 3600,
                "upload_history": "[]",
            }
            for n in range(count)
        ]
        for chunk in chunked(rows, 500):
            Channel.insert_many(chunk).execute()
        pairs: Any = Channel.select(Channel.id, Channel.external_id).tuples()
        ids = {external: pk for pk, external in pairs}
        ordered = [ids[channel_id(n)] for n in range(count)]
        subs = [
            {"user": u, "channel": pk, "mode": FUTURE_ONLY, "created_at": week_ago}
            for u in users
            for pk in ordered
        ]
        for chunk in chunked(subs, 500):
            Subscription.insert_many(chunk).execute()
        videos = [
            {
                "channel": pk,
                "external_id": video_id(n, i),
                "title": f"Upload {i}",
                "url": f"{world.settings.youtube_url}/watch?v={video_id(n, i)}",
                "published_at": week_ago,
                "discovered_at": week_ago,
                "updated_at": week_ago,
            }
            for n, pk in enumerate(ordered)
            for i in range(world.uploads)
        ]
        for chunk in chunked(videos, 500):
            Video.insert_many(chunk).execute()
    return ordered


def make_due(ids: Sequence[int] | None = None) -> None:
    """Make channels (all without `ids`) due now and unclaimed."""
    from poller.models import Channel, db

    query = Channel.update(next_poll_at=time.time() - 1, claimed_until=0)
    if ids is not None:
        query = query.where(Channel.id.in_(list(ids)))
    query.execute()
    if "postgres" in type(db.obj).__name__.lower():
        # Every row's due time just changed: autovacuum would analyse the table
        # within its minute, a tick a second later would plan on stale
        # statistics. The bench's ticks plan as a running fleet's do.
        db.execute_sql("ANALYZE channel")


def claimed_count() -> int:
    """Return how many channels are claimed now: a tick's sends, when nothing polls them."""
    from poller.models import Channel

    return Channel.select().where(Channel.claimed_until > time.time()).count()


def finished_since(since: float, ids: Sequence[int] | None = None) -> tuple[int, int]:
    """Return (polled, failed) channels whose poll ended after `since`."""
    from poller.models import Channel

    polled = Channel.select().where(Channel.last_polled_at >= since)
    failed = Channel.select().where(Channel.last_error_at >= since)
    if ids is not None:
        polled = polled.where(Channel.id.in_(list(ids)))
        failed = failed.where(Channel.id.in_(list(ids)))
    return polled.count(), failed.count()
