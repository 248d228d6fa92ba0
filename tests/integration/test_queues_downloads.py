"""The two queues on real RabbitMQ, and one real yt-dlp download through a download worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poller.models import COMPLETE, NOT_WANTED, PENDING, Channel, Video
from tests.support.cluster import BOTH_DATABASES, Cluster
from tests.support.feedserver import FeedServer
from tests.support.rabbit import ALL_QUEUES
from tests.support.rows import make_user, subscribe
from tests.support.synthetic import MEDIA

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
    assert set(ALL_QUEUES) <= set(cluster.vhost.queues())
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
    assert f"download video={video.id} complete" in downloads.text()
    assert {v.download_status for v in Video.select().where(Video.id != video.id)} == {NOT_WANTED}
