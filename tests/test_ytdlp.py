"""Running yt-dlp: its errors sorted, its process killed on time, one video downloaded.

The `slow` tests run the real yt-dlp against the feed server on 127.0.0.1; nothing here reaches
any other host.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from poller import ytdlp
from poller.errors import NotYetAvailable, PermanentError, TransientError, Unavailable
from poller.ytdlp import _error_from, download, file_stem
from tests.support.answers import HANG, Route
from tests.support.feedserver import FeedServer
from tests.support.ytdlp_status import use_status_pages

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


def test_file_names_are_one_component_per_distinct_id() -> None:
    assert file_stem(7, "dQw4w9WgXcQ") == "7/dQw4w9WgXcQ"  # a YouTube id stays readable
    # Once stripped of their letters these two looked alike; they must not share a file.
    ids = ["выпуск-1", "эпизод-1", "______-1", "http://127.0.0.1:18931/episodes/ep3.mp3",
           "http://127.0.0.1:18931/episodes/ep3.mp4", "../../etc/passwd", "a%(id)s", "-rf",
           "x" * 64, "x" * 65, "x" * 1000]  # fmt: skip
    stems = [file_stem(2, i) for i in ids]
    assert len(set(stems)) == len(ids)
    for stem in stems:
        channel, name = stem.split("/")
        assert channel == "2" and name and not name.startswith((".", "-"))
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name)
    assert file_stem(2, ids[3]) == file_stem(2, ids[3])  # stable: only the id decides
    assert file_stem(3, ids[0]) != file_stem(2, ids[0])
    with pytest.raises(ValueError):
        download("http://127.0.0.1:1/x", Path("/tmp"), name="../x", timeout=1)


UNAVAILABLE_TEXTS = [
    "Private video. Sign in if you've been granted access to this video",
    "This video is only available to Music Premium members",
    "Join this channel to get access to members-only content like this video, and other "
    "exclusive perks.",
    "Video unavailable. This video is no longer available because the YouTube account "
    "associated with this video has been terminated.",
    "This video has been removed by the uploader",
    "Sign in to confirm your age. This video may be inappropriate for some users.",
    "Video unavailable. This video is not available in your country",
    "The uploader has not made this video available in your country",
]


@pytest.mark.parametrize("text", UNAVAILABLE_TEXTS)
def test_unavailable_content_is_its_own_permanent_error(text: str) -> None:
    error = _error_from(f"WARNING: x\nERROR: [youtube] dQw4w9WgXcQ: {text}\n", 1)
    assert type(error) is Unavailable and isinstance(error, PermanentError)


@pytest.mark.parametrize(
    "text",
    [
        "Sign in to confirm you're not a bot.",
        "Video unavailable. This content isn't available, try again later.",  # a rate limit
    ],
)
def test_a_block_of_this_address_is_not_unavailable_content(text: str) -> None:
    assert type(_error_from(f"ERROR: [youtube] dQw4w9WgXcQ: {text}\n", 1)) is TransientError


@pytest.mark.parametrize(
    ("text", "wait"),
    [
        ("Premieres in 3 hours", 3 * 3600),
        ("Premieres in 45 minutes", 45 * 60),
        ("Premieres in 2 days", 2 * 86400),
        ("This live event will begin in 20 minutes.", 20 * 60),
        ("This live event will begin in a few moments.", 60),
        ("Premieres in a week", 604800),
        ("This live event will begin on 2027-01-01", ytdlp.UPCOMING_RETRY_S),
        ("Premieres in 999999999999 weeks", 366 * 86400),
    ],
)
def test_an_upcoming_video_says_when_to_try_again(text: str, wait: float) -> None:
    error = _error_from(f"ERROR: [youtube] dQw4w9WgXcQ: {text}\n", 1, now=1000.0)
    assert isinstance(error, NotYetAvailable) and error.at == 1000.0 + wait


def test_warnings_are_logged_not_failures(caplog) -> None:
    ytdlp._log_warnings("WARNING: [youtube] No supported JavaScript runtime\nother\n", "video=3")
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "video=3" in caplog.text and "JavaScript runtime" in caplog.text


def test_the_venv_deno_is_passed_to_yt_dlp() -> None:
    args = ytdlp.js_runtime_args()
    deno = Path(sys.executable).with_name("deno")
    assert deno.is_file(), "the deno package installs its binary beside python"
    assert args == ["--js-runtimes", f"deno:{deno}"]
    assert "--no-warnings" not in ytdlp.BASE_ARGS


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
    # Long enough for yt-dlp (slower to start with yt-dlp[default]) to open the .part on a
    # busy machine before the stall; the kill is then as prompt as ever.
    with pytest.raises(TransientError, match="timed out after 8 s"):
        download(url, tmp_path, name="c/v", timeout=8)
    assert time.monotonic() - started < 11
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


@pytest.fixture
def status_pages(server: FeedServer, monkeypatch) -> FeedServer:
    """Let yt-dlp load the test extractor that turns ``/status/<id>`` pages into errors."""
    use_status_pages(monkeypatch)
    return server


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Private video. Sign in if you've been granted access to this video", Unavailable),
        ("Join this channel to get access to members-only content like this video", Unavailable),
        ("The uploader has not made this video available in your country", Unavailable),
        ("Premieres in 3 hours", NotYetAvailable),
    ],
)
def test_real_yt_dlp_errors_are_sorted(
    status_pages: FeedServer, tmp_path: Path, text: str, kind: type
) -> None:
    status_pages.routes["/status/v1"] = Route(text.encode(), "text/plain")
    with pytest.raises(kind, match=re.escape(text[:20])):
        download(status_pages.url("/status/v1"), tmp_path, name="c/v1", timeout=60)


@pytest.mark.slow
def test_yt_dlp_warnings_are_logged_and_the_download_goes_on(
    status_pages: FeedServer, tmp_path: Path, caplog
) -> None:
    status_pages.routes["/status/v2"] = Route(b"WARNING formats may be missing", "text/plain")
    status_pages.routes["/media/v2.mp4"] = Route(CLIP, "video/mp4")
    path = download(status_pages.url("/status/v2"), tmp_path, name="c/v2", timeout=60, label="v=2")
    assert Path(path).read_bytes() == CLIP
    assert any(
        r.levelname == "WARNING" and "v=2" in r.message and "formats may be missing" in r.message
        for r in caplog.records
    )
