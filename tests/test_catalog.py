"""Reading a catalog: yt-dlp's flat JSON turned into entries, and real listings.

The `slow` tests run the real yt-dlp against the test feed server on 127.0.0.1; nothing here reaches
any other host.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from poller import ytdlp_pool
from poller.catalog import CatalogEntry, catalog_entries, list_catalog, video_id_from
from poller.errors import PermanentError
from poller.kinds import LIVE, SHORT, UPCOMING
from tests.support.answers import Route
from tests.support.feedserver import FeedServer
from tests.support.ytdlp_status import use_status_pages

IDS = ["dQw4w9WgXcQ", "abcdefghijk", "A-b_c1234Zz"]
BASE = "https://www.youtube.com"


@pytest.fixture
def server(feeds: FeedServer) -> FeedServer:
    """The feed server, where each test sets its routes."""
    return feeds


def rss(title: str, items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://127.0.0.1/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


# --- video_id_from: pure ---------------------------------------------------------------------


def test_youtube_entry_keeps_its_own_id() -> None:
    assert video_id_from({"id": "dQw4w9WgXcQ", "ie_key": "Youtube"}) == "dQw4w9WgXcQ"


def test_full_youtube_result_keeps_its_id_even_if_not_11_chars() -> None:
    assert video_id_from({"id": "weird", "extractor_key": "Youtube"}) == "weird"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42",
        "http://127.0.0.1:8080/watch?v=dQw4w9WgXcQ#__youtubedl_smuggle=%7B%7D",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ?si=abc",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?t=10",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    ],
)
def test_youtube_id_is_read_from_every_url_shape(url: str) -> None:
    assert video_id_from({"url": url, "title": "t"}) == "dQw4w9WgXcQ"


def test_other_url_is_its_own_key_without_the_smuggled_guid() -> None:
    url = "https://podcasts.example/ep/1.mp3"
    smuggled = url + "#__youtubedl_smuggle=%7B%22force_videoid%22%3A+%22ep1%22%7D"
    assert video_id_from({"url": smuggled}) == url
    assert video_id_from({"id": "clip", "extractor": "generic", "webpage_url": url}) == url


def test_long_url_gets_a_stable_short_key() -> None:
    url = "https://cdn.example/" + "a" * 300 + ".mp3"
    key = video_id_from({"url": url})
    assert key == video_id_from({"url": url}) and key is not None
    assert key.startswith("sha1:") and len(key) <= 256
    assert key != video_id_from({"url": url + "x"})


def test_entry_without_id_or_url_has_no_key() -> None:
    assert video_id_from({"title": "nothing"}) is None
    assert video_id_from({"id": "podcast-7", "url": "  "}) is None


# --- catalog_entries: pure, on dicts shaped like yt-dlp's YoutubeTab flat output ------------


def test_channel_tabs_are_flattened_and_deduplicated() -> None:
    info = {
        "_type": "playlist",
        "entries": [
            {"_type": "playlist", "title": "Videos", "entries": [
                {"_type": "url", "ie_key": "Youtube", "id": IDS[0], "title": "A",
                 "url": f"https://www.youtube.com/watch?v={IDS[0]}"},
                None,
                {"_type": "url", "ie_key": "Youtube", "id": IDS[1], "title": "B",
                 "upload_date": "20240102"},
            ]},
            {"_type": "playlist", "title": "Live", "entries": [
                {"_type": "url", "ie_key": "Youtube", "id": IDS[0], "title": "A again"},
                {"_type": "url", "ie_key": "YoutubeTab", "id": "UCxyz",
                 "url": "https://www.youtube.com/@x/playlists"},
            ]},
        ],
    }  # fmt: skip
    entries = catalog_entries(info, video_url_base="http://127.0.0.1:9")
    assert entries == [
        CatalogEntry(IDS[0], "A", f"https://www.youtube.com/watch?v={IDS[0]}", None),
        CatalogEntry(IDS[1], "B", f"http://127.0.0.1:9/watch?v={IDS[1]}",
                     datetime(2024, 1, 2, tzinfo=UTC).timestamp()),
    ]  # fmt: skip


def test_single_video_result_gives_one_entry() -> None:
    info = {"id": IDS[2], "extractor_key": "Youtube", "title": "One", "timestamp": 1700000000,
            "webpage_url": f"https://www.youtube.com/watch?v={IDS[2]}",
            "url": "https://rr1---sn.googlevideo.example/videoplayback?x=1"}  # fmt: skip
    [entry] = catalog_entries(info, video_url_base=BASE)
    assert entry == CatalogEntry(IDS[2], "One", info["webpage_url"], 1700000000.0)


def test_a_flat_youtube_listing_gives_each_entry_its_kind_and_an_upcoming_ones_start() -> None:
    # The shapes yt-dlp's youtube tab extractor gives flat entries (listing_meta's docstring).
    info = {"entries": [
        {"id": IDS[0], "ie_key": "Youtube", "url": f"{BASE}/shorts/{IDS[0]}"},
        {"id": IDS[1], "ie_key": "Youtube", "live_status": "is_upcoming",
         "release_timestamp": 1800000000, "timestamp": 1700000000},
        {"id": IDS[2], "ie_key": "Youtube", "live_status": "was_live"},
    ]}  # fmt: skip
    entries = catalog_entries(info, video_url_base=BASE)
    assert [(e.media_type, e.start_at) for e in entries] == [
        (SHORT, None),
        (UPCOMING, 1800000000.0),
        (LIVE, None),
    ]
    assert entries[1].published_at == 1700000000.0


def test_every_catalog_listing_asks_for_approximate_dates(monkeypatch) -> None:
    ran: list[list[str]] = []

    def run(args: list[str], **options: object) -> str:
        ran.append(args)
        return '{"entries": []}'

    monkeypatch.setattr(ytdlp_pool, "run", run)
    assert list_catalog(f"{BASE}/channel/UC1/videos", timeout=1, video_url_base=BASE) == []
    [args] = ran
    at = args.index("--extractor-args")
    assert args[at + 1] == "youtubetab:approximate_date" and at < args.index("--")


# --- list_catalog: real yt-dlp, loopback ---------------------------------------------------


@pytest.mark.slow
def test_rss_of_watch_links_lists_their_ids_titles_and_dates(server: FeedServer) -> None:
    dates = [datetime(2024, 1, d, 10, tzinfo=UTC) for d in (1, 2, 3)]
    items = [
        f"<item><title>Vidéo ✓ {n}</title><link>{server.base}/watch?v={vid}</link>"
        f"<guid>{vid}</guid><pubDate>{format_datetime(when)}</pubDate></item>"
        for n, (vid, when) in enumerate(zip(IDS, dates, strict=True))
    ]
    server.routes["/feed.xml"] = Route(rss("Chan", items), "application/rss+xml")
    entries = list_catalog(server.url("/feed.xml"), timeout=60, video_url_base=BASE)
    assert entries == [
        CatalogEntry(vid, f"Vidéo ✓ {n}", f"{server.base}/watch?v={vid}", when.timestamp())
        for n, (vid, when) in enumerate(zip(IDS, dates, strict=True))
    ]


@pytest.mark.slow
def test_podcast_rss_entries_are_keyed_by_their_media_url(server: FeedServer) -> None:
    items = [
        f"<item><title>Ep {n}</title><guid>ep-{n}</guid><link>{server.base}/ep/{n}</link>"
        f'<enclosure url="{server.base}/media/ep{n}.mp3" type="audio/mpeg" length="9"/></item>'
        for n in range(2)
    ]
    items.append("<item><title>No link at all</title></item>")  # yt-dlp drops it
    server.routes["/pod.xml"] = Route(rss("Pod", items), "application/rss+xml")
    first = list_catalog(server.url("/pod.xml"), timeout=60, video_url_base=BASE)
    assert [(e.external_id, e.title, e.published_at) for e in first] == [
        (server.url(f"/media/ep{n}.mp3"), f"Ep {n}", None) for n in range(2)
    ]
    again = list_catalog(server.url("/pod.xml"), timeout=60, video_url_base=BASE)
    assert again == first  # stable keys


@pytest.mark.slow
def test_missing_feed_is_a_permanent_error(server: FeedServer) -> None:
    with pytest.raises(PermanentError, match="HTTP Error 404"):
        list_catalog(server.url("/gone.xml"), timeout=60, video_url_base=BASE)


@pytest.mark.slow
def test_one_unavailable_entry_never_aborts_a_listing(server: FeedServer, monkeypatch) -> None:
    use_status_pages(monkeypatch)
    listing = "v1\nERROR Join this channel to get access to members-only content\nv3\n"
    server.routes["/statuslist/chan"] = Route(listing.encode(), "text/plain")
    entries = list_catalog(server.url("/statuslist/chan"), timeout=60, video_url_base=BASE)
    assert [e.external_id for e in entries] == [server.url("/status/v1"), server.url("/status/v3")]
