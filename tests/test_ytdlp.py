"""The two yt-dlp edges: listing a catalog and downloading one video.

The `slow` tests run the real yt-dlp against the feed server on 127.0.0.1; nothing here reaches
any other host.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from poller.catalog import CatalogEntry, _error_from, catalog_entries, list_catalog, video_id_from
from poller.download import download, safe_name
from poller.errors import PermanentError, TransientError
from tests.support.answers import HANG, Route
from tests.support.feedserver import FeedServer

IDS = ["dQw4w9WgXcQ", "abcdefghijk", "A-b_c1234Zz"]
CLIP = bytes(range(256)) * 1200  # 300 KiB, every byte value


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


def processes_with(needle: str) -> list[int]:
    """Return the pids whose command line contains ``needle`` (yt-dlp gets the URL as argv)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue  # it ended while we looked
    return pids


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
    [entry] = catalog_entries(info)
    assert entry == CatalogEntry(IDS[2], "One", info["webpage_url"], 1700000000.0)


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [  # as yt-dlp 2026.10.26 printed them here
        ("ERROR: [generic] missing: Unable to download webpage: HTTP Error 404: Not Found "
         "(caused by <HTTPError 404: Not Found>)\n", PermanentError),
        ("ERROR: [generic] 'not a url' is not a valid URL\n", PermanentError),
        ("WARNING: x\nERROR: [generic] x: Unable to download webpage: [Errno 111] Connection "
         "refused (caused by TransportError('[Errno 111] Connection refused'))\n", TransientError),
        ("yt-dlp: error: no such option: --bogus\n", PermanentError),  # exit code 2 below
    ],
)  # fmt: skip
def test_errors_are_sorted_into_permanent_and_transient(stderr: str, kind: type) -> None:
    error = _error_from(stderr, 2 if "no such option" in stderr else 1)
    assert type(error) is kind
    assert "\n" not in str(error) and len(str(error)) <= 300


def test_safe_name_keeps_files_under_the_media_dir() -> None:
    assert safe_name("UCabc/dQw4w9WgXcQ") == "UCabc/dQw4w9WgXcQ"
    assert safe_name("../../etc/pass wd%(id)s") == "etc/pass_wd__id_s"
    assert safe_name("https://x.example/a?b=1") == "https_/x.example/a_b_1"
    with pytest.raises(ValueError):
        safe_name("/../..")


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
    entries = list_catalog(server.url("/feed.xml"), timeout=60)
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
    first = list_catalog(server.url("/pod.xml"), timeout=60)
    assert [(e.external_id, e.title, e.published_at) for e in first] == [
        (server.url(f"/media/ep{n}.mp3"), f"Ep {n}", None) for n in range(2)
    ]
    assert list_catalog(server.url("/pod.xml"), timeout=60) == first  # stable keys


@pytest.mark.slow
def test_missing_feed_is_a_permanent_error(server: FeedServer) -> None:
    with pytest.raises(PermanentError, match="HTTP Error 404"):
        list_catalog(server.url("/gone.xml"), timeout=60)


@pytest.mark.slow
def test_catalog_of_a_silent_server_times_out_and_kills_yt_dlp(server: FeedServer) -> None:
    server.routes["/silent.xml"] = HANG
    url = server.url("/silent.xml")
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out after 3 s"):
        list_catalog(url, timeout=3)
    assert time.monotonic() - started < 6
    assert processes_with(url) == []


# --- download: real yt-dlp, loopback ---------------------------------------------------------


@pytest.mark.slow
def test_direct_link_is_downloaded_once(server: FeedServer, tmp_path: Path) -> None:
    server.routes["/media/clip.mp4"] = Route(CLIP, "video/mp4")
    url = server.url("/media/clip.mp4")
    result = download(url, tmp_path / "médias", name="UCchan/dQw4w9WgXcQ", timeout=60)
    path = Path(result.path)
    assert path == (tmp_path / "médias/UCchan/dQw4w9WgXcQ.mp4").resolve()
    assert path.read_bytes() == CLIP
    before = path.stat()
    # A retry sees the complete file: yt-dlp probes the URL again but does not download.
    again = download(url, tmp_path / "médias", name="UCchan/dQw4w9WgXcQ", timeout=60)
    assert again == result
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.slow
def test_missing_media_is_a_permanent_error(server: FeedServer, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="HTTP Error 404"):
        download(server.url("/media/gone.mp4"), tmp_path, name="c/v", timeout=60)
    assert list(tmp_path.rglob("*.mp4")) == []


@pytest.mark.slow
def test_stalled_download_times_out_then_a_retry_starts_afresh(
    server: FeedServer, tmp_path: Path
) -> None:
    server.routes["/media/slow.mp4"] = Route(CLIP, "video/mp4", stall_after=100_000)
    url = server.url("/media/slow.mp4")
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out after 3 s"):
        download(url, tmp_path, name="c/v", timeout=3)
    assert time.monotonic() - started < 6
    assert processes_with(url) == []
    # Only a .part is left: a killed download never looks complete.
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["v.mp4.part"]

    server.routes["/media/slow.mp4"] = Route(CLIP, "video/mp4")
    seen = len(server.requests)
    result = download(url, tmp_path, name="c/v", timeout=60)
    assert Path(result.path).read_bytes() == CLIP
    assert sorted(os.listdir(tmp_path / "c")) == ["v.mp4"]
    # The stale .part was removed, not resumed: no byte range was asked for.
    assert [r.headers.get("Range") for r in server.requests[seen:]] == [None] * (
        len(server.requests) - seen
    )
