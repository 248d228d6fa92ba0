"""Fixtures of the fault suite: the integration machinery, with faults the test expects.

Reuses `tests/support` (vhost, workers, sender, waits) and the root
conftest's `cluster`. The one difference from the integration tests: a 10 s
claim lease, so work lost to a fault comes back within a test. A fault test
injects failures on purpose, so it lists the log fragments they cause in
`cluster.expected`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from poller import pipeline, subscriptions
from poller.models import CATALOGED, Channel, Event, Video, db
from poller.subscriptions import add_user
from tests.faults.fleet import fleet  # noqa: F401 (the fleet tests' hosts)
from tests.faults.history import check_history
from tests.support.feedserver import FeedServer
from tests.support.gunicorn import serving


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    """A claim lease of 10 s, so work lost to a fault comes back within a test.

    A test that injects a fault lists the log fragments it causes in
    `cluster.expected`; any other ERROR or traceback still fails it.
    """
    return {"TUBEPOLLER_CLAIM_LEASE": "10"}


# --- end-state checks shared by the fault tests -----------------------------------------


def plain_feeds(feeds: FeedServer, count: int, uploads: int = 3) -> list[int]:
    """Create `count` channels on the feed server with `uploads` old uploads; return numbers."""
    now = time.time()
    numbers = []
    for _ in range(count):
        source = feeds.add_channel()
        for i in range(uploads):
            source.upload(published=now - 86400 * (uploads - i))
        numbers.append(source.number)
    return numbers


def polled(ids: Iterable[int]) -> int:
    """How many of these channels have finished a poll."""
    return (
        Channel.select()
        .where(Channel.id.in_(list(ids)) & Channel.last_polled_at.is_null(False))
        .count()
    )


def assert_end_state(
    feeds: FeedServer,
    channel_sources: dict[int, int],
    *,
    subscribers: int = 1,
    after: float,
) -> None:
    """Every channel polled once into the catalog: videos, refs, events exactly once, scheduled.

    The uploads themselves are judged by the history checker (`history.py`).

    Args:
        channel_sources: channel id → feed server channel number.
        subscribers: how many users subscribe to each channel.
        after: a time before the test's polls; every next poll must lie after it.
    """
    now = time.time()
    check_history(feeds, channel_sources).assert_clean()
    ids = list(channel_sources)
    # A first poll catalogs quietly: one "catalog" event per subscriber and channel.
    events = list(Event.select().where(Event.channel.in_(ids)))
    assert len([e for e in events if e.kind == CATALOGED]) == len(ids) * subscribers
    assert_scheduled(ids, after=after, now=now)


def assert_scheduled(ids: list[int], *, after: float, now: float | None = None) -> None:
    """Every channel has a next poll after `after`, and no claim outlives a lease."""
    now = time.time() if now is None else now
    bad = [
        (c.id, c.next_poll_at, c.claimed_until, c.poll_attempts, c.last_error)
        for c in Channel.select().where(Channel.id.in_(ids))
        if c.next_poll_at is None
        or c.next_poll_at <= after
        or c.claimed_until > now + 10
        or c.last_polled_at is None
        or c.consecutive_failures
        or c.poll_attempts
    ]
    assert not bad, f"{len(bad)} channels not rescheduled cleanly, e.g. {bad[:5]}"


# --- a real gunicorn for the API under attack ----------------------------------------------


@dataclass
class LiveAPI:
    """A gunicorn serving the API as shipped (`api.asgi`) on loopback, on the test's SQLite."""

    base: str
    proc: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str]  # user name → bearer token
    channels: dict[str, int]  # user name → the channel only that user subscribes to
    videos: dict[str, int]  # user name → a video of that channel

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def live_api(database_url: str, feeds: FeedServer, settings, tmp_path: Path) -> Iterator[LiveAPI]:
    """gunicorn (one asgi worker) on the embedded broker; alice and bob, a channel each."""
    assert database_url.startswith("sqlite:")
    tokens, channels, videos = {}, {}, {}
    with db.connection_context():
        for name in ("alice", "bob"):
            user, tokens[name] = add_user(name, time.time())
            source = feeds.add_channel()
            source.upload(published=time.time() - 86400)
            channel = subscriptions.subscribe(
                user, feeds.feed_url(source.number), "catalog_only", time.time(), settings
            ).channel
            channels[name] = channel.id
            assert pipeline.poll_channel(channel.id, time.time(), settings).outcome != "failed"
            videos[name] = Video.get(Video.channel == channel.id).id
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(
        TUBEPOLLER_DATABASE_URL=database_url,
        TUBEPOLLER_DATA_DIR=str(tmp_path / "api-data"),
        TUBEPOLLER_YOUTUBE_URL=feeds.base,
        TUBEPOLLER_ALLOW_PRIVATE_NETWORKS="0",  # as in production: no loopback feeds
    )
    log = tmp_path / "gunicorn.log"
    with serving(env, log) as (base, proc):
        live = LiveAPI(base, proc, log, tokens, channels, videos)
        yield live
    assert "Traceback" not in live.text(), live.text()[-5000:]
