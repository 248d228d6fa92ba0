"""Running yt-dlp: its errors sorted, its process killed on time, one video downloaded.

The `slow` tests run the real yt-dlp against the feed server on 127.0.0.1; nothing here reaches
any other host.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from poller import ytdlp
from poller.errors import PermanentError, TransientError
from poller.ytdlp import _error_from, download, safe_name
from tests.support.answers import HANG, Route
from tests.support.feedserver import FeedServer

CLIP = bytes(range(256)) * 1200  # 300 KiB, every byte value


@pytest.fixture
def server(feeds: FeedServer) -> FeedServer:
    """The feed server, where each test sets its routes."""
    return feeds


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


# --- errors and timeouts ----------------------------------------------------------------


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


@pytest.mark.slow
def test_a_silent_server_times_out_and_yt_dlp_is_killed(server: FeedServer) -> None:
    server.routes["/silent.xml"] = HANG
    url = server.url("/silent.xml")
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out after 3 s"):
        ytdlp.run(["--flat-playlist", "--dump-single-json", "--", url], timeout=3)
    assert time.monotonic() - started < 6
    assert processes_with(url) == []


def test_safe_name_keeps_files_under_the_media_dir() -> None:
    assert safe_name("UCabc/dQw4w9WgXcQ") == "UCabc/dQw4w9WgXcQ"
    assert safe_name("../../etc/pass wd%(id)s") == "etc/pass_wd__id_s"
    assert safe_name("https://x.example/a?b=1") == "https_/x.example/a_b_1"
    with pytest.raises(ValueError):
        safe_name("/../..")


# --- download: real yt-dlp, loopback ---------------------------------------------------------


@pytest.mark.slow
def test_direct_link_is_downloaded_once(server: FeedServer, tmp_path: Path) -> None:
    server.routes["/media/clip.mp4"] = Route(CLIP, "video/mp4")
    url = server.url("/media/clip.mp4")
    path = Path(download(url, tmp_path / "médias", name="UCchan/dQw4w9WgXcQ", timeout=60))
    assert path == (tmp_path / "médias/UCchan/dQw4w9WgXcQ.mp4").resolve()
    assert path.read_bytes() == CLIP
    before = path.stat()
    # A retry sees the complete file: yt-dlp probes the URL again but does not download.
    again = download(url, tmp_path / "médias", name="UCchan/dQw4w9WgXcQ", timeout=60)
    assert again == str(path)
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
    path = download(url, tmp_path, name="c/v", timeout=60)
    assert Path(path).read_bytes() == CLIP
    assert sorted(os.listdir(tmp_path / "c")) == ["v.mp4"]
    # The stale .part was removed, not resumed: no byte range was asked for.
    assert [r.headers.get("Range") for r in server.requests[seen:]] == [None] * (
        len(server.requests) - seen
    )
