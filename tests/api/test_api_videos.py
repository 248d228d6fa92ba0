"""Videos: the caller's feed and a channel's list, cursor-paginated; downloads on demand."""

from __future__ import annotations

import base64

import pytest
from dramatiq.errors import ConnectionClosed

from poller.broker import DOWNLOAD_QUEUE
from poller.models import COMPLETE, DOWNLOADING, FAILED, PENDING, User, UserVideoRef, Video
from tests.api.support import Caller, Feed, queued

DAY = 86400.0
NOW = 1_750_000_000.0


def add_video(
    channel_id: int,
    name: str,
    published: float | None,
    *users: User,
    discovered: float = NOW,
    status: str = "none",
) -> int:
    video = Video.create(
        channel=channel_id,
        external_id=name,
        title=name,
        url=f"http://127.0.0.1/{name}",
        published_at=published,
        discovered_at=discovered,
        download_status=status,
        updated_at=discovered,
    )
    for user in users:
        UserVideoRef.create(user=user, video=video, created_at=discovered)
    return video.id


def titles(result) -> list[str]:
    assert result.status_code == 200, result.text
    return [v["title"] for v in result.json["items"]]


def every_page(caller: Caller, path: str, **params: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        result = caller.get(path, params=query)
        seen += titles(result)
        cursor = result.json["next"]
        if cursor is None:
            return seen


@pytest.fixture
def channel(alice: Caller, feed: Feed) -> int:
    """Alice's channel with five videos: dated, undated and two with the same date."""
    channel_id = alice.subscribe(feed.url)
    add_video(channel_id, "d-oldest", NOW - 5 * DAY, alice.user)
    add_video(channel_id, "b-tie-1", NOW - 2 * DAY, alice.user)
    add_video(channel_id, "b-tie-2", NOW - 2 * DAY, alice.user)
    add_video(channel_id, "c-undated", None, alice.user, discovered=NOW - 3 * DAY)
    add_video(channel_id, "a-newest", NOW - 1 * DAY, alice.user)
    return channel_id


# Newest first by publication, videos without a date last (as the CLI lists them).
ORDER = ["a-newest", "b-tie-2", "b-tie-1", "d-oldest", "c-undated"]


def test_the_feed_is_newest_first_and_undated_videos_come_last(alice: Caller, channel: int) -> None:
    result = alice.get("/api/videos")

    assert titles(result) == ORDER
    assert result.json["next"] is None
    first = result.json["items"][0]
    assert first["channel_id"] == channel and first["download_status"] == "none"
    assert first["published_at"].endswith("Z")


def test_every_video_listing_says_its_media_type(alice: Caller, channel: int) -> None:
    start = NOW + DAY
    Video.update(media_type="upcoming", available_at=start).where(
        Video.external_id == "a-newest"
    ).execute()
    Video.update(media_type="short").where(Video.external_id == "d-oldest").execute()

    for path in ("/api/videos", f"/api/channels/{channel}/videos"):
        items = {v["title"]: v for v in alice.get(path).json["items"]}
        assert {t: v["media_type"] for t, v in items.items()} == {
            "a-newest": "upcoming",
            "b-tie-2": "video",
            "b-tie-1": "video",
            "d-oldest": "short",
            "c-undated": "video",
        }
        assert items["a-newest"]["available_at"] == "2025-06-16T15:06:40Z"
        assert items["b-tie-1"]["available_at"] is None


def test_pages_follow_the_cursor_to_the_end(alice: Caller, channel: int) -> None:
    assert every_page(alice, "/api/videos", limit=2) == ORDER
    assert every_page(alice, f"/api/channels/{channel}/videos", limit=1) == ORDER


def test_paging_is_stable_while_videos_arrive(alice: Caller, channel: int) -> None:
    first = alice.get("/api/videos", params={"limit": 2})
    assert titles(first) == ORDER[:2]
    # Meanwhile: a new upload, one more with the cursor's own date, an old one
    # and one without a date.
    add_video(channel, "z-new-upload", NOW, alice.user)
    add_video(channel, "b-tie-3", NOW - 2 * DAY, alice.user)
    add_video(channel, "e-backfill", NOW - 9 * DAY, alice.user)
    add_video(channel, "f-undated", None, alice.user)

    rest = every_page(alice, "/api/videos", limit=2, cursor=first.json["next"])

    # Nothing repeats, nothing the first page promised is skipped; the new
    # upload and the newer tie sort before the cursor: a fresh first page has them.
    assert rest == ["b-tie-1", "d-oldest", "e-backfill", "f-undated", "c-undated"]
    assert titles(alice.get("/api/videos", params={"limit": 2})) == ["z-new-upload", "a-newest"]


def test_the_feed_holds_only_the_callers_references(
    alice: Caller, bob: Caller, channel: int, feeds
) -> None:
    bobs = bob.subscribe(Feed(feeds, "bobs").url)
    add_video(bobs, "bobs-video", NOW, bob.user)

    assert "bobs-video" not in titles(alice.get("/api/videos"))
    assert titles(bob.get("/api/videos")) == ["bobs-video"]
    assert bob.get(f"/api/channels/{channel}/videos").status_code == 404


def test_status_filters_by_download_state(alice: Caller, channel: int) -> None:
    add_video(channel, "fetched", NOW - 4 * DAY, alice.user, status=COMPLETE)

    assert titles(alice.get("/api/videos", params={"status": "complete"})) == ["fetched"]
    assert titles(alice.get(f"/api/channels/{channel}/videos", params={"status": "pending"})) == []
    result = alice.get("/api/videos", params={"status": "done"})
    assert result.status_code == 400 and "status" in result.json["description"]


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=ten",
        "cursor=not-a-cursor",
        "cursor=WzEsMl0",  # base64 of [1,2]: fine
        "cursor=WyJ4IiwxXQ",  # ["x",1]
        "cursor=WzEsOTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ",  # an id beyond 64 bits
        "cursor=" + _cursor(b"[" * 2500),  # nested past the JSON parser's recursion limit
        "cursor=" + _cursor(b"[" + b"9" * 400 + b",1]"),  # a key no float holds
        "cursor=" + _cursor(b"[1e400,1]"),  # a float that overflows to inf
        "cursor=" + _cursor(b"[" + b"9" * 100 + b",1]"),  # short enough, still too large
        "cursor=" + "A" * 201,  # longer than any cursor this API gives out
    ],
)
def test_a_bad_limit_or_cursor_is_a_400(alice: Caller, channel: int, query: str) -> None:
    result = alice.get("/api/videos", query_string=query)
    expected = 200 if query == "cursor=WzEsMl0" else 400
    assert result.status_code == expected, result.text


def test_a_download_is_marked_and_queued(alice: Caller, channel: int, broker) -> None:
    video_id = Video.get(Video.title == "a-newest").id

    result = alice.post(f"/api/videos/{video_id}/download")

    assert (result.status_code, result.json) == (202, {"queued": True, "download_status": PENDING})
    assert Video.get_by_id(video_id).download_status == PENDING
    assert queued(broker, DOWNLOAD_QUEUE) == [(video_id,)]
    again = alice.post(f"/api/videos/{video_id}/download")
    assert (again.status_code, again.json) == (202, {"queued": False, "download_status": PENDING})
    assert len(queued(broker, DOWNLOAD_QUEUE)) == 1


@pytest.mark.parametrize("status", [DOWNLOADING, COMPLETE])
def test_a_video_downloading_or_downloaded_is_a_409(
    alice: Caller, channel: int, broker, status: str
) -> None:
    video_id = add_video(channel, "busy", NOW, alice.user, status=status)

    result = alice.post(f"/api/videos/{video_id}/download")

    assert result.status_code == 409 and status in result.json["description"]
    assert queued(broker, DOWNLOAD_QUEUE) == []


def test_a_failed_download_can_be_asked_for_again(alice: Caller, channel: int, broker) -> None:
    video_id = add_video(channel, "broken", NOW, alice.user, status=FAILED)
    assert alice.post(f"/api/videos/{video_id}/download").status_code == 202


def test_only_a_referenced_video_can_be_downloaded(
    alice: Caller, bob: Caller, channel: int, broker
) -> None:
    video_id = Video.get(Video.title == "a-newest").id

    assert bob.post(f"/api/videos/{video_id}/download").status_code == 404
    assert alice.post("/api/videos/999999/download").status_code == 404
    assert Video.get_by_id(video_id).download_status == "none"


def test_a_download_the_broker_refuses_is_a_503_and_stays_wanted(
    alice: Caller, channel: int, broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poller import actors

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionClosed(OSError("connection refused"))

    monkeypatch.setattr(actors.download_video, "send", refuse)
    video_id = Video.get(Video.title == "a-newest").id

    result = alice.post(f"/api/videos/{video_id}/download")

    assert result.status_code == 503
    assert Video.get_by_id(video_id).download_status == PENDING  # the sweep re-sends it


def test_a_new_subscriber_sees_what_is_cataloged(
    alice: Caller, bob: Caller, feed: Feed, channel: int
) -> None:
    bob.subscribe(feed.url)
    assert titles(bob.get("/api/videos")) == ORDER


def test_the_first_video_is_the_newest_not_an_undated_back_catalog_one(
    alice: Caller, feed: Feed
) -> None:
    channel_id = alice.subscribe(feed.url)
    # Back catalog listed just now, without dates; the upload is a day old.
    add_video(channel_id, "old-undated", None, alice.user, discovered=NOW)
    add_video(channel_id, "upload", NOW - DAY, alice.user, discovered=NOW - DAY)

    first = alice.get("/api/videos", params={"limit": 1})

    assert titles(first) == ["upload"]
    assert titles(alice.get("/api/videos", params={"cursor": first.json["next"]})) == [
        "old-undated"
    ]


def test_a_channel_left_leaves_the_feed(alice: Caller, bob: Caller, channel: int, broker) -> None:
    bob.subscribe(alice.get(f"/api/channels/{channel}").json["url"])
    video_id = Video.get(Video.title == "a-newest").id

    assert alice.delete(f"/api/channels/{channel}").status_code == 204

    assert titles(alice.get("/api/videos")) == []
    assert alice.get(f"/api/channels/{channel}/videos").status_code == 404
    assert alice.post(f"/api/videos/{video_id}/download").status_code == 404
    assert titles(bob.get("/api/videos")) == ORDER  # the other subscriber keeps them
    alice.subscribe(bob.get(f"/api/channels/{channel}").json["url"])
    assert titles(alice.get("/api/videos")) == ORDER  # back, from the same references
