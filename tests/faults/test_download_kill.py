"""A download worker SIGKILLed while yt-dlp writes the file: no half file is ever `complete`."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from poller import config
from poller import downloads as download_states
from poller.models import COMPLETE, DOWNLOADING, PENDING, Video
from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.rows import make_user, subscribe
from tests.support.synthetic import MEDIA

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.rabbitmq,
    pytest.mark.usefixtures("conn"),
]

CHUNKS = 200  # the slow file: 200 × 16 KiB, one chunk every 0.1 s (20 s in all)


def slow_watch(feeds: FeedServer) -> threading.Event:
    """Make /watch drip its file while the returned event is set."""
    slow = threading.Event()
    base = feeds.RequestHandlerClass

    class SlowWatch(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            if not (self.path.startswith("/watch") and slow.is_set()):
                super().do_GET()
                return
            self.server.count(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(MEDIA) * CHUNKS))
            self.end_headers()
            try:
                for _ in range(CHUNKS):
                    self.wfile.write(MEDIA)
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass

    feeds.RequestHandlerClass = SlowWatch
    slow.set()
    return slow


def ytdlp_processes(media_dir: Path) -> list[str]:
    found = subprocess.run(
        ["pgrep", "-af", f"yt_dlp.*{media_dir}"], capture_output=True, text=True, check=False
    ).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


def test_a_download_killed_mid_file_is_never_complete_and_is_retried(
    cluster: Cluster, feeds: FeedServer
) -> None:
    source = feeds.add_channel()
    channel = subscribe(make_user(), f"https://www.youtube.com/channel/{source.id}")
    vid = source.upload()
    now = time.time()
    video = Video.create(
        channel=channel, external_id=vid, title="t", url=f"{feeds.base}/watch?v={vid}",
        published_at=now, discovered_at=now, download_status=PENDING, updated_at=now,
    )  # fmt: skip
    media_dir = Path(cluster.env["TUBEPOLLER_MEDIA_DIR"]).resolve()
    slow = slow_watch(feeds)
    worker = cluster.start_worker("downloads", threads=1)
    cluster.sender.send("downloads", "download_video", video.id)

    parts = cluster.wait(
        lambda: [p for p in media_dir.rglob("*.part") if p.stat().st_size > 0],
        "yt-dlp to start writing the file",
        timeout=60,
    )
    worker.kill()  # the dramatiq master and its worker process
    # yt-dlp dies with its worker: nothing keeps writing behind the retry's back.
    cluster.wait(lambda: not ytdlp_processes(media_dir), "yt-dlp to die with its worker", 5)

    killed = Video.get_by_id(video.id)
    assert killed.download_status == DOWNLOADING and killed.download_path is None
    finals = [p for p in media_dir.rglob("*") if p.is_file() and not p.name.endswith(".part")]
    assert finals == [], finals  # only the .part file: no final-looking half file
    assert parts and all(p.stat().st_size < len(MEDIA) * CHUNKS for p in parts)

    # Later: the sweep finds the download that lost its worker and re-sends it.
    slow.clear()
    downloads = cluster.start_worker("downloads", threads=1)
    settings = config.load(cluster.env)
    later = time.time() + settings.download_timeout + 61
    resent = download_states.stuck(later, settings)
    assert resent == [video.id]
    for video_id in resent:
        cluster.sender.send("downloads", "download_video", video_id)
    done = cluster.wait(
        lambda: (v := Video.get_by_id(video.id)).download_status == COMPLETE and v,
        "the retried download",
        timeout=90,
    )
    path = Path(done.download_path)
    assert path.read_bytes() == MEDIA  # the whole file of the retry, not the killed one's bytes
    assert done.download_attempts == 2 and done.download_error is None
    assert not list(media_dir.rglob("*.part"))  # the retry removed the leftover
    assert f"download video={video.id} complete" in downloads.text()
    assert Video.get_by_id(video.id).download_status == COMPLETE
    assert download_states.stuck(later + 1, settings) == []  # nothing left to sweep
