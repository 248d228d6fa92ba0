"""Kinds, include, bursts and premieres through real RabbitMQ and `dramatiq` worker processes.

The fake YouTube has uploads playlists and watch pages with yt-dlp metadata
(`tests.support.playlists`); subscriptions are made with the `tubepoller`
command, polls sent through the broker, and the database is read for what
each subscriber got.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from poller.kinds import LIVE, SHORT, VIDEO
from poller.models import COMPLETE, NEW_EPISODE, Channel, Event, User, Video
from poller.window import START_MARGIN_S
from tests.support.cluster import BOTH_DATABASES, Cluster
from tests.support.playlists import KindedChannel, PlaylistFeedServer, watch_plugin_path

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.slow,
    pytest.mark.usefixtures("conn"),
    BOTH_DATABASES,
]


@pytest.fixture
def feeds() -> Iterator[PlaylistFeedServer]:
    """The fake YouTube with uploads playlists; the workers are pointed at it."""
    server = PlaylistFeedServer()
    yield server
    server.stop()


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    """yt-dlp in the workers reads the fake's watch pages (premieres' metadata, media)."""
    return {"PYTHONPATH": watch_plugin_path(os.environ)}


def announced(user: str) -> dict[str, float]:
    """Return each video announced to `user` with its event's time."""
    query = (
        Video.select(Video.external_id, Event.created_at)
        .join(Event, on=(Event.video == Video.id))
        .join(User, on=(Event.user == User.id))
        .where((User.name == user) & (Event.kind == NEW_EPISODE))
        .tuples()
    )
    return dict(query)


def subscribe(cluster: Cluster, user: str, channel_id: str, *options: str) -> int:
    """Make `user` and subscribe them with the `tubepoller` command; return the channel's id."""
    cluster.tubepoller("user", "add", user)
    url = f"https://www.youtube.com/channel/{channel_id}"
    out = cluster.tubepoller("channel", "add", url, "--user", user, *options).stdout
    return int(out.split("to channel ", 1)[1].split()[0])


def cataloged(cluster: Cluster, feeds: PlaylistFeedServer) -> tuple[KindedChannel, int]:
    """Start a poll worker; subscribe alice to a channel with one old video; wait for it."""
    source = feeds.add_channel()
    source.add(VIDEO, published=time.time() - 86400)
    cluster.start_worker("poll", "tick", threads=4)
    channel_id = subscribe(cluster, "alice", source.id)
    first_poll(cluster, channel_id)
    return source, channel_id


def first_poll(cluster: Cluster, channel_id: int) -> None:
    cluster.wait(
        lambda: Channel.get_by_id(channel_id).cataloged_at is not None,
        "the first poll and its catalog listing",
        timeout=60,
    )


def test_each_subscriber_gets_only_the_kinds_they_include(
    cluster: Cluster, feeds: PlaylistFeedServer
) -> None:
    source = feeds.add_channel()
    source.add(VIDEO, published=time.time() - 86400)
    cluster.start_worker("poll", "tick", threads=4, processes=2)
    cluster.start_worker("downloads", threads=2)
    channel_id = subscribe(cluster, "plain", source.id)  # the default: video, live
    assert subscribe(cluster, "shorts", source.id, "--include", "video,short") == channel_id
    first_poll(cluster, channel_id)

    made = {source.add(SHORT): SHORT, source.add(LIVE): LIVE, source.add(VIDEO): VIDEO}
    by_kind = {kind: vid for vid, kind in made.items()}
    cluster.sender.poll(channel_id)
    cluster.wait(lambda: len(announced("plain")) + len(announced("shorts")) == 4, "4 events")

    assert set(announced("plain")) == {by_kind[VIDEO], by_kind[LIVE]}
    assert set(announced("shorts")) == {by_kind[VIDEO], by_kind[SHORT]}
    # The short is downloaded once, for the one who wants it, as are the others.
    cluster.wait(
        lambda: (
            {v.download_status for v in Video.select().where(Video.external_id.in_(list(made)))}
            == {COMPLETE}
        ),
        "the three downloads",
        timeout=90,
    )
    listed = json.loads(cluster.tubepoller("video", "list", "--json").stdout)
    assert {v["external_id"]: v["media_type"] for v in listed if v["external_id"] in made} == made
    table = cluster.tubepoller("video", "list", "--user", "plain").stdout
    assert "MEDIA_TYPE" in table.splitlines()[0] and by_kind[SHORT] not in table


def test_a_burst_of_sixteen_uploads_is_announced_whole(
    cluster: Cluster, feeds: PlaylistFeedServer
) -> None:
    source, channel_id = cataloged(cluster, feeds)

    uploaded = time.time()
    burst = source.burst(16, now=uploaded)
    cluster.sender.poll(channel_id)
    # Read every 0.1 s: the time it takes to see the 16th's event, give or take that.
    events = cluster.wait(lambda: (got := announced("alice")) and len(got) == 16 and got, "16")
    seen_after = time.time() - uploaded

    assert set(events) == set(burst)
    # The oldest of the 16 is no longer in the feed: the gap listing found it.
    assert Video.get(Video.external_id == burst[0]).backfill is False
    print(
        f"\nupload→event of the 16th of a 16-upload burst: {seen_after:.2f} s "
        "(the poll sent at the upload; feed, UULF feed, yt-dlp gap listing, store)"
    )
    assert events[burst[0]] >= uploaded


def test_a_premiere_is_announced_after_its_start_not_before(
    cluster: Cluster, feeds: PlaylistFeedServer
) -> None:
    source, channel_id = cataloged(cluster, feeds)

    # Starts in a few seconds: the poll that finds it brings the next one forward.
    start = time.time() + 8 - START_MARGIN_S
    premiere = source.schedule(start)
    cluster.sender.poll(channel_id)
    cluster.wait(lambda: Video.get_or_none(Video.external_id == premiere), "the premiere cataloged")
    stored = Channel.get_by_id(channel_id)
    assert stored.upcoming_due_at == pytest.approx(int(start) + START_MARGIN_S)
    assert stored.next_poll_at <= stored.upcoming_due_at
    cluster.sender.poll(channel_id)  # a poll before its start announces nothing
    cluster.wait(
        lambda: Channel.get_by_id(channel_id).last_polled_at > stored.last_polled_at,
        "a second poll",
    )
    assert announced("alice") == {}

    source.start(premiere)

    # The tick claims the channel at its re-check: `tubepoller poll --all --due-only`.
    def polled_due() -> dict[str, float]:
        cluster.tubepoller("poll", "--all", "--due-only")
        return announced("alice")

    events = cluster.wait(polled_due, "the premiere announced at its re-check", timeout=40)
    assert set(events) == {premiere}
    assert events[premiere] >= int(start) + START_MARGIN_S
    assert Video.get(Video.external_id == premiere).media_type == VIDEO
