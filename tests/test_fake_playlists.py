"""The fake YouTube's playlists, premieres, deletions and bursts behave as YouTube does."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import feedparser
import pytest

from poller import kinds
from poller.kinds import LIVE, MEMBERS_ONLY, SHORT, UPCOMING, VIDEO
from poller.scan import scan_ids
from tests.support.playlists import KindedChannel, PlaylistFeedServer


@pytest.fixture
def youtube() -> Iterator[PlaylistFeedServer]:
    server = PlaylistFeedServer()
    yield server
    server.stop()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback)
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _ids(url: str) -> list[str]:
    status, body = _get(url)
    assert status == 200, body
    ids = scan_ids(body)
    assert ids is not None
    return ids


def _mixed(channel: KindedChannel) -> dict[str, str]:
    return {
        channel.add(VIDEO): VIDEO,
        channel.add(SHORT): SHORT,
        channel.add(LIVE): LIVE,
        channel.add(MEMBERS_ONLY): MEMBERS_ONLY,
    }


def test_each_uploads_playlist_lists_its_own_kind(youtube: PlaylistFeedServer) -> None:
    made = _mixed(youtube.add_channel())
    by_kind = {kind: vid for vid, kind in made.items()}
    assert _ids(youtube.playlist_url(0, "UULF")) == [by_kind[VIDEO]]
    assert _ids(youtube.playlist_url(0, "UUSH")) == [by_kind[SHORT]]
    assert _ids(youtube.playlist_url(0, "UULV")) == [by_kind[LIVE]]
    assert _ids(youtube.playlist_url(0, "UUMO")) == [by_kind[MEMBERS_ONLY]]
    everything = list(reversed(made))
    assert _ids(youtube.playlist_url(0, "UU")) == everything
    assert _ids(youtube.feed_url(0)) == everything


def test_the_playlist_feeds_classify_new_ids_through_the_rules(youtube: PlaylistFeedServer) -> None:
    channel = youtube.add_channel()
    made = _mixed(channel)
    new = _ids(youtube.feed_url(0))
    asked: dict[str, list[str] | None] = {}
    while (prefix := kinds.next_playlist(new, asked)) is not None:
        asked[prefix] = _ids(youtube.playlist_url(0, prefix))
    assert kinds.place(new, asked).kinds == made


def test_a_channel_without_long_form_answers_404_and_falls_back(
    youtube: PlaylistFeedServer,
) -> None:
    channel = youtube.add_channel(long_form=False)
    made = _mixed(channel)
    assert _get(youtube.playlist_url(0, "UULF"))[0] == 404
    new = _ids(youtube.feed_url(0))
    asked: dict[str, list[str] | None] = {"UULF": None}
    while (prefix := kinds.next_playlist(new, asked)) is not None:
        asked[prefix] = _ids(youtube.playlist_url(0, prefix))
    assert list(asked) == ["UULF", "UUSH", "UULV", "UUMO"]
    assert kinds.place(new, asked).kinds == made


def test_an_unknown_playlist_is_404(youtube: PlaylistFeedServer) -> None:
    youtube.add_channel()
    assert _get(f"{youtube.base}/feeds/videos.xml?playlist_id=UULFnosuchchannel")[0] == 404


def test_a_premiere_shows_its_start_and_joins_a_playlist_once_started(
    youtube: PlaylistFeedServer,
) -> None:
    channel = youtube.add_channel()
    start = time.time() + 3600
    premiere = channel.schedule(start)
    stream = channel.schedule(start + 60, stream=True)
    feed = feedparser.parse(_get(youtube.feed_url(0))[1])
    starts = {e.yt_videoid: e.get("yt_scheduledstarttime") for e in feed.entries}
    assert set(starts) == {premiere, stream}
    assert all(starts.values())
    assert _ids(youtube.playlist_url(0, "UULF")) == []
    assert channel.metadata(premiere)["live_status"] == "is_upcoming"
    assert kinds.from_metadata(channel.metadata(premiere)) == UPCOMING
    assert kinds.start_time(channel.metadata(premiere)) == int(start)

    channel.start(premiere)
    channel.start(stream)
    assert _ids(youtube.playlist_url(0, "UULF")) == [premiere]
    assert _ids(youtube.playlist_url(0, "UULV")) == [stream]
    assert kinds.from_metadata(channel.metadata(stream)) == LIVE
    assert b"scheduledStartTime" not in _get(youtube.feed_url(0))[1]


def test_a_burst_of_sixteen_shows_fifteen_and_a_deletion_slides_the_16th_back(
    youtube: PlaylistFeedServer,
) -> None:
    channel = youtube.add_channel()
    burst = channel.burst(16)
    shown = _ids(youtube.feed_url(0))
    assert shown == list(reversed(burst[1:]))
    assert burst[0] not in shown

    channel.delete(burst[5])
    shown = _ids(youtube.feed_url(0))
    assert len(shown) == 15 and shown[-1] == burst[0] and burst[5] not in shown
    # The catalog listing lost it too, and new ids never reuse a deleted one.
    assert burst[5].encode() not in _get(f"{youtube.base}/channel/{channel.id}/videos")[1]
    assert channel.add() not in burst


def test_a_cut_feed_is_ill_formed_but_keeps_the_entries_before_the_cut(
    youtube: PlaylistFeedServer,
) -> None:
    channel = youtube.add_channel()
    made = [channel.add() for _ in range(3)]
    channel.cut_feed()
    parsed = feedparser.parse(_get(youtube.feed_url(0))[1])
    assert parsed.bozo
    recovered = [e.yt_videoid for e in parsed.entries if "yt_videoid" in e]
    assert made[2] in recovered and made[1] in recovered
    channel.cut_feed(False)
    assert not feedparser.parse(_get(youtube.feed_url(0))[1]).bozo


def test_the_channel_feed_still_answers_304(youtube: PlaylistFeedServer) -> None:
    youtube.add_channel().add()
    with urllib.request.urlopen(youtube.feed_url(0), timeout=5) as answer:  # noqa: S310
        etag = answer.headers["ETag"]
    request = urllib.request.Request(youtube.feed_url(0), headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    assert raised.value.code == 304
