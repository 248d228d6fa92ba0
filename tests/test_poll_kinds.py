"""Polls against the fake YouTube's playlists: kinds, include, bursts, slides, premieres."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from poller import pipeline, subscriptions
from poller.kinds import LIVE, MEMBERS_ONLY, SHORT, UPCOMING, VIDEO
from poller.models import (
    NEW_EPISODE,
    NOT_WANTED,
    PENDING,
    UNAVAILABLE,
    Channel,
    Event,
    Host,
    User,
    UserVideoRef,
    Video,
)
from poller.window import GONE_AFTER_S, START_MARGIN_S
from tests.support.playlists import KindedChannel, PlaylistFeedServer, use_watch_pages
from tests.support.querycount import count_queries
from tests.support.rows import make_user

pytestmark = pytest.mark.usefixtures("conn")


@pytest.fixture
def feeds() -> Iterator[PlaylistFeedServer]:
    """The fake YouTube with uploads playlists (the `settings` fixture points at it)."""
    server = PlaylistFeedServer()
    yield server
    server.stop()


def youtube_url(channel_id: str) -> str:
    return f"https://www.youtube.com/channel/{channel_id}"


def subscribe(user: User, channel_id: str, settings, include: str | None = None) -> Channel:
    now = time.time() - 60  # before the uploads the test makes next (a burst: 1 s apart)
    return subscriptions.subscribe(
        user, youtube_url(channel_id), "future_only", now, settings, include
    ).channel


def poll(channel: Channel, settings, at: float | None = None) -> pipeline.PollResult:
    return pipeline.poll_channel(channel.id, at or time.time(), settings)


def cataloged(
    feeds: PlaylistFeedServer, settings, **options: bool
) -> tuple[KindedChannel, User, Channel]:
    """Make a channel with one old video, subscribe a user, poll it once (its catalog)."""
    source = feeds.add_channel(**options)
    source.add(VIDEO, published=time.time() - 86400)
    user = make_user()
    channel = subscribe(user, source.id, settings)
    poll(channel, settings)
    return source, user, channel


def kind_of(external_id: str) -> str:
    return Video.get(Video.external_id == external_id).media_type


def announced_to(user: User) -> set[str]:
    query = (
        Video.select(Video.external_id)
        .join(Event, on=(Event.video == Video.id))
        .where((Event.user == user.id) & (Event.kind == NEW_EPISODE))
    )
    return {v.external_id for v in query}


def referenced_by(user: User) -> set[str]:
    query = (
        Video.select(Video.external_id)
        .join(UserVideoRef, on=(UserVideoRef.video == Video.id))
        .where(UserVideoRef.user == user.id)
    )
    return {v.external_id for v in query}


def playlist_hits(feeds: PlaylistFeedServer) -> int:
    return sum(n for path, n in feeds.hits.items() if "playlist_id=" in path)


def test_new_uploads_get_their_kind_and_only_included_kinds_are_announced(
    feeds: PlaylistFeedServer, settings
) -> None:
    source = feeds.add_channel()
    source.add(VIDEO, published=time.time() - 86400)
    plain, shorts_too = make_user("plain"), make_user("shorts")
    channel = subscribe(plain, source.id, settings)  # default: video, live
    subscribe(shorts_too, source.id, settings, include="video,short")
    poll(channel, settings)

    made = {source.add(VIDEO): VIDEO, source.add(SHORT): SHORT, source.add(LIVE): LIVE}
    members = source.add(MEMBERS_ONLY)
    result = poll(channel, settings)

    assert {vid: kind_of(vid) for vid in made} == made and kind_of(members) == MEMBERS_ONLY
    by_kind = {kind: vid for vid, kind in made.items()}
    assert announced_to(plain) == {by_kind[VIDEO], by_kind[LIVE]}
    assert announced_to(shorts_too) == {by_kind[VIDEO], by_kind[SHORT]}
    assert by_kind[SHORT] not in referenced_by(plain) and members not in referenced_by(plain)
    # Every kind is cataloged; the short is downloaded for the one who wants it.
    status = {v.external_id: v.download_status for v in Video.select()}
    assert {status[vid] for vid in made} == {PENDING} and status[members] == NOT_WANTED
    assert len(result.download_ids) == 3


def test_an_unchanged_poll_costs_one_request_and_no_playlist(
    feeds: PlaylistFeedServer, settings
) -> None:
    feeds.validators = False
    source = feeds.add_channel()
    source.add(VIDEO, published=time.time() - 86400)
    channel = subscribe(make_user(), source.id, settings)
    poll(channel, settings)
    before, playlists = feeds.served, playlist_hits(feeds)

    with count_queries() as statements:
        assert poll(channel, settings).outcome == pipeline.UNCHANGED

    assert feeds.served - before == 1 and playlist_hits(feeds) == playlists
    assert len(statements) <= 4, statements  # with the poll's history row


def test_one_new_video_costs_one_playlist_request(feeds: PlaylistFeedServer, settings) -> None:
    source = feeds.add_channel()
    source.add(VIDEO, published=time.time() - 86400)
    channel = subscribe(make_user(), source.id, settings)
    poll(channel, settings)
    playlists = playlist_hits(feeds)

    source.add(VIDEO)
    assert poll(channel, settings).outcome == pipeline.NEW
    assert playlist_hits(feeds) - playlists == 1  # UULF placed it


def test_a_channel_without_long_form_falls_back_to_all_uploads(
    feeds: PlaylistFeedServer, settings
) -> None:
    source, _, channel = cataloged(feeds, settings, long_form=False)

    video, short = source.add(VIDEO), source.add(SHORT)
    poll(channel, settings)
    assert (kind_of(video), kind_of(short)) == (VIDEO, SHORT)
    # In none of UUSH, UULV, UUMO: a video, without asking yt-dlp about it.
    assert not [path for path in feeds.hits if path.startswith("/watch")]


def test_a_burst_of_sixteen_announces_all_sixteen(feeds: PlaylistFeedServer, settings) -> None:
    source, user, channel = cataloged(feeds, settings)

    burst = source.burst(16)
    result = poll(channel, settings)

    assert announced_to(user) == set(burst)
    assert result.backfill_count == 0 and len(result.download_ids) == 16


def test_an_entry_that_slides_back_after_a_deletion_is_not_announced(
    feeds: PlaylistFeedServer, settings
) -> None:
    source = feeds.add_channel()
    now = time.time()
    old = [source.add(VIDEO, published=now - 3600 * (20 - i)) for i in range(20)]
    user = make_user()
    channel = subscribe(user, source.id, settings)
    poll(channel, settings)  # the first poll catalogs all 20
    Video.delete().where(Video.external_id == old[4]).execute()  # never seen: it was the 16th

    source.delete(old[10])  # one of the 15 goes, the 16th slides back in
    result = poll(channel, settings)

    assert result.outcome == pipeline.UNCHANGED and result.backfill_count == 1
    assert announced_to(user) == set()
    assert Video.get(Video.external_id == old[4]).backfill


def test_a_premiere_is_announced_only_once_it_started(
    feeds: PlaylistFeedServer, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_watch_pages(monkeypatch)
    source, user, channel = cataloged(feeds, settings)

    start = time.time() + 3600
    premiere = source.schedule(start)
    result = poll(channel, settings)

    row = Video.get(Video.external_id == premiere)
    assert (row.media_type, row.available_at, row.download_status) == (
        UPCOMING,
        int(start),
        NOT_WANTED,
    )
    assert result.outcome == pipeline.UNCHANGED and announced_to(user) == set()
    assert premiere in referenced_by(user)
    stored = Channel.get_by_id(channel.id)
    assert stored.upcoming_due_at == int(start) + START_MARGIN_S
    assert stored.next_poll_at <= stored.upcoming_due_at

    # Polled again before the start: still nothing.
    outcome = poll(channel, settings, at=start - 60).outcome
    assert outcome in (pipeline.NOT_MODIFIED, pipeline.UNCHANGED)
    assert announced_to(user) == set()

    source.start(premiere)
    result = poll(channel, settings, at=start + START_MARGIN_S)

    assert result.outcome == pipeline.NEW and announced_to(user) == {premiere}
    row = Video.get(Video.external_id == premiere)
    assert (row.media_type, row.download_status) == (VIDEO, PENDING)
    assert Channel.get_by_id(channel.id).upcoming_due_at is None


def test_a_premiere_that_vanishes_is_marked_gone(
    feeds: PlaylistFeedServer, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_watch_pages(monkeypatch)
    source, user, channel = cataloged(feeds, settings)
    start = time.time() + 600
    premiere = source.schedule(start)
    poll(channel, settings)

    source.delete(premiere)
    poll(channel, settings, at=start + START_MARGIN_S)  # a feed can lag: not gone yet
    assert Video.get(Video.external_id == premiere).download_status == NOT_WANTED
    poll(channel, settings, at=start + GONE_AFTER_S + 1)

    row = Video.get(Video.external_id == premiere)
    assert row.download_status == UNAVAILABLE and row.download_error.startswith("gone")
    assert announced_to(user) == set()
    assert Channel.get_by_id(channel.id).upcoming_due_at is None


def test_the_first_poll_catalogs_each_kind_for_those_who_include_it(
    feeds: PlaylistFeedServer, settings
) -> None:
    source = feeds.add_channel()
    video = source.add(VIDEO, published=time.time() - 86400)
    short = source.add(SHORT, published=time.time() - 3600)
    plain, shorts_too = make_user("plain"), make_user("shorts")
    channel = subscribe(plain, source.id, settings)
    subscribe(shorts_too, source.id, settings, include="short")

    assert poll(channel, settings).backfill_count == 2

    assert (kind_of(video), kind_of(short)) == (VIDEO, SHORT)
    assert (referenced_by(plain), referenced_by(shorts_too)) == ({video}, {short})
    catalog = {e.user.name: json.loads(e.payload) for e in Event.select()}
    assert catalog == {"plain": {"videos": 1}, "shorts": {"videos": 1}}
    # Who subscribes later gets references to what they include, and no more.
    late = make_user("late")
    subscribe(late, source.id, settings, include="video,short")
    assert referenced_by(late) == {video, short}


def test_a_429_on_a_playlist_feed_pauses_the_host_and_defers_the_poll(
    feeds: PlaylistFeedServer, settings
) -> None:
    source, user, channel = cataloged(feeds, settings)
    new = source.add(VIDEO)
    feeds.playlist_refusal = 429

    result = poll(channel, settings)

    assert result.outcome == pipeline.DEFERRED
    assert Video.get_or_none(Video.external_id == new) is None  # stored by a later poll
    (host,) = Host.select()
    assert host.paused_until is not None and host.pause_reason.startswith("rate_limited")
    assert Channel.get_by_id(channel.id).consecutive_failures == 0
