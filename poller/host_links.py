"""Which host a channel's polls spend from, and the rate that host allows.

A channel's host is the host of the URL its polls actually fetch (a YouTube
channel's feed is on TUBEPOLLER_YOUTUBE_URL's host, whatever URL the user
pasted). `subscribe` links a new channel; `backfill` links the rows from
before the column, at `db init`.
"""

from __future__ import annotations

from typing import Any

from peewee import chunked

from . import host_store, hosts, sources
from .config import Settings
from .models import Channel, db


def channel_host(kind: str, external_id: str | None, feed_url: str, settings: Settings) -> str:
    """Return the `hosts.host_key` of the URL a channel's polls fetch."""
    return hosts.host_key(sources.feed_url(kind, external_id, feed_url, settings))


def rate_of(host: str, settings: Settings) -> float:
    """Return the requests per second `host` allows (TUBEPOLLER_HOST_RATE or the default)."""
    return hosts.default_rate(host, settings.youtube_url, settings.host_rate)


def backfill(settings: Settings, now: float) -> int:
    """Link every channel without a host to its host; return how many were linked."""
    query: Any = Channel.select(Channel.id, Channel.kind, Channel.external_id, Channel.feed_url)
    rows: list[tuple[int, str, str | None, str]] = list(
        query.where(Channel.host.is_null()).tuples()
    )
    if not rows:
        return 0
    by_host: dict[str, list[int]] = {}
    for channel_id, kind, external_id, feed_url in rows:
        by_host.setdefault(channel_host(kind, external_id, feed_url, settings), []).append(
            channel_id
        )
    ids = host_store.ensure_hosts(by_host, now)
    with db.atomic():
        for name, channel_ids in by_host.items():
            for chunk in chunked(channel_ids, 500):
                Channel.update(host=ids[name]).where(Channel.id.in_(chunk)).execute()
    return len(rows)
