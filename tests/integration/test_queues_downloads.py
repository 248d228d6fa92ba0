"""The two queues on real RabbitMQ, and one real yt-dlp download through a download worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poller.models import COMPLETE, NOT_WANTED, PENDING, UNAVAILABLE, Channel, Video
from tests.support.answers import Route
from tests.support.cluster import BOTH_DATABASES, Cluster
from tests.support.feedserver import FeedServer
from tests.support.rabbit import ALL_QUEUES
from tests.support.rows import make_user, subscribe
from tests.support.synthetic import MEDIA
from tests.support.ytdlp_status import plugin_path

# Every test here runs real worker processes: all of them are slow.
pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.slow,
    pytest.mark.usefixtures("conn"),
    BOTH_DATABASES,
]


def test_poll_and_downloads_are_separate_queues(cluster: Cluster) -> None:
    polls = cluster.start_worker("poll", "tick", threads=2)
    poll_queues = {"poll", "poll.DQ", "poll.XQ", "tick", "tick.DQ", "tick.XQ"}
    cluster.wait(lambda: poll_queues <= set(cluster.vhost.queues()), "the poll worker's queues")
    queues = cluster.vhost.queues()
    assert not any(name.startswith("downloads") for name in queues)  # not a poll worker's

    # The real actor, as the poll worker calls it: where does its message go?
    cluster.python("from poller import actors; actors.download_video.send(987654)")
    queues = cluster.vhost.queues()
    assert queues["downloads"] == (1, 0)
    assert queues["poll"] == (0, 0)

    downloads = cluster.start_worker("downloads", threads=1)
    cluster.wait(lambda: "download video=987654 skipped" in downloads.text(), "the download worker")
    cluster.wait(lambda: cluster.vhost.queues().get("downloads") == (0, 0), "downloads to drain")
    assert {q for q in ALL_QUEUES if not q.startswith("notify")} <= set(cluster.vhost.queues())
    assert "download video=" not in polls.text()


def test_a_new_upload_is_downloaded_by_the_download_worker(
    cluster: Cluster, feeds: FeedServer, tmp_path: Path
) -> None:
    source = feeds.add_channel()
    for _ in range(2):
        source.upload(published=time.time() - 86400)
    subscribed = subscribe(make_user(), f"https://www.youtube.com/channel/{source.id}")
    polls = cluster.start_worker("poll", threads=2)

    cluster.sender.poll(subscribed.id)
    cluster.wait(
        lambda: Channel.get_by_id(subscribed.id).cataloged_at is not None,
        "the first poll and its yt-dlp listing",
        timeout=60,
    )
    back_catalog = list(Video.select())
    assert len(back_catalog) == 2
    assert {v.download_status for v in back_catalog} == {NOT_WANTED}  # future_only

    new_id = source.upload()
    cluster.sender.poll(subscribed.id)
    # No download worker yet: the poll marks the video and its message waits.
    cluster.wait(
        lambda: Video.get_or_none(
            (Video.external_id == new_id) & (Video.download_status == PENDING)
        ),
        "the poll to mark the new upload pending",
    )
    cluster.wait(lambda: cluster.vhost.queues().get("downloads") == (1, 0), "a download message")

    downloads = cluster.start_worker("downloads", threads=1)
    video = cluster.wait(
        lambda: Video.get_or_none(
            (Video.external_id == new_id) & (Video.download_status == COMPLETE)
        ),
        "the new upload's download",
        timeout=90,
    )

    media_dir = Path(cluster.env["TUBEPOLLER_MEDIA_DIR"]).resolve()
    path = Path(video.download_path)
    assert path.is_file() and path.resolve().is_relative_to(media_dir)
    assert path.read_bytes() == MEDIA
    assert video.download_attempts == 1 and video.download_error is None
    assert feeds.hits[f"/watch?v={new_id}"] >= 1
    assert f"poll channel={subscribed.id} new=1" in polls.text()
    # The actor logs the outcome just after the row says complete.
    line = f"download video={video.id} complete"
    cluster.wait(lambda: line in downloads.text(), "the download's log line", timeout=10)
    assert {v.download_status for v in Video.select().where(Video.id != video.id)} == {NOT_WANTED}


def test_unavailable_and_upcoming_videos_end_cleanly_in_a_worker(
    cluster: Cluster, feeds: FeedServer
) -> None:
    # Real yt-dlp in the worker meets the refusals YouTube gives (see ytdlp_status).
    cluster.env["PYTHONPATH"] = plugin_path(cluster.env)
    feeds.routes["/status/gone"] = Route(b"Private video. Sign in if you've been granted access")
    feeds.routes["/status/soon"] = Route(b"Premieres in 2 hours")
    now = time.time()
    channel = Channel.create(kind="feed", feed_url=feeds.url("/pod.xml"), created_at=now)
    ids = {}
    for name in ("gone", "soon"):
        ids[name] = Video.create(
            channel=channel, external_id=name, url=feeds.url(f"/status/{name}"),
            discovered_at=now, updated_at=now, download_status=PENDING,
        ).id  # fmt: skip
    downloads = cluster.start_worker("downloads", threads=1)
    cluster.python(
        "from poller import actors\n"
        f"for video_id in {sorted(ids.values())}: actors.download_video.send(video_id)"
    )
    gone = cluster.wait(
        lambda: Video.get_or_none(
            (Video.id == ids["gone"]) & (Video.download_status == UNAVAILABLE)
        ),
        "the private video to end unavailable",
        timeout=90,
    )
    assert "Private video" in gone.download_error and gone.download_attempts == 1
    cluster.wait(
        lambda: f"download video={ids['soon']} deferred" in downloads.text(),
        "the premiere to be deferred",
        timeout=90,
    )
    soon = Video.get_by_id(ids["soon"])
    assert soon.download_status == PENDING and soon.download_attempts == 0
    assert abs(soon.available_at - (now + 7200)) < 120
    assert f"download video={ids['gone']} unavailable" in downloads.text()
    # No retry of either: one attempt each, the guarded probe of the link (a page) and
    # yt-dlp's extraction (the premiere's next try is 2 h away).
    assert feeds.hits["/status/gone"] == 2 and feeds.hits["/status/soon"] == 2
    assert downloads.text().count(f"download video={ids['gone']} ") == 1
    assert Channel.get_by_id(channel.id).consecutive_failures == 0
