"""The download state machine: wanted → downloading → complete | failed, once per video."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dramatiq import Message

from poller import config, direct, download_slots, downloads, models, ytdlp
from poller.config import Settings
from poller.errors import NotYetAvailable, PermanentError, TransientError, Unavailable
from poller.models import COMPLETE, DOWNLOADING, FAILED, NOT_WANTED, PENDING, Channel, Video
from tests.support.procs import TUBEPOLLER, wait_for

pytestmark = pytest.mark.usefixtures("conn")
NOW = 1_800_000_000.0


@pytest.fixture
def video() -> Video:
    channel = Channel.create(kind="feed", feed_url="http://127.0.0.1/f", created_at=NOW)
    return Video.create(
        channel=channel,
        external_id="ep-1",
        url="http://127.0.0.1/ep-1.mp3",
        discovered_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture(autouse=True)
def links_are_pages(monkeypatch) -> None:
    """Send every feed link on to yt-dlp (mocked per test); `direct` has tests of its own."""
    monkeypatch.setattr(direct, "download", lambda url, *a, **k: direct.Page(url))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(media_dir=tmp_path, allow_private_networks=True)


def status(video: Video) -> str:
    return Video.get_by_id(video.id).download_status


def test_a_video_is_requested_once_until_it_fails(video: Video) -> None:
    assert downloads.request(video.id, NOW) and status(video) == PENDING
    assert not downloads.request(video.id, NOW)  # already wanted
    Video.update(download_status=FAILED).execute()
    assert downloads.request(video.id, NOW)


def test_only_a_pending_video_is_downloaded(video: Video, settings: Settings, monkeypatch) -> None:
    monkeypatch.setattr(ytdlp, "download", lambda *a, **k: str(settings.media_dir / "ep-1.mp3"))
    assert downloads.download_video(video.id, NOW, settings, retrying=False).status == "skipped"
    downloads.request(video.id, NOW)
    done = downloads.download_video(video.id, NOW, settings, retrying=False)
    assert done.status == COMPLETE
    stored = Video.get_by_id(video.id)
    assert stored.download_path == str(settings.media_dir / "ep-1.mp3")
    assert stored.download_attempts == 1


def test_a_download_past_the_process_limit_goes_back_to_the_queue(
    video: Video, settings: Settings, stub_broker, monkeypatch
) -> None:
    from poller import actors

    config.override(dataclasses.replace(settings, downloads_per_process=1))
    ran: list[str] = []
    monkeypatch.setattr(ytdlp, "download", lambda url, *a, **k: ran.append(url) or url)
    hour_ago = time.time() - 3600
    downloads.request(video.id, hour_ago)
    with download_slots.SLOTS.take(1):  # another download holds the one slot
        actors.download_video(video.id)
    # Not started, no attempt spent, its thread free at once: sent again in 5-15 s.
    assert ran == [] and status(video) == PENDING
    stored = Video.get_by_id(video.id)
    assert stored.download_attempts == 0 and stored.updated_at > hour_ago  # not swept as lost
    (sent,) = list(stub_broker.queues["downloads.DQ"].queue)
    eta = Message.decode(sent).options["eta"] / 1000
    assert time.time() + 4 < eta < time.time() + 16
    actors.download_video(video.id)  # the slot is free again
    assert ran == [video.url] and status(video) == COMPLETE


@pytest.mark.parametrize(
    "error, retrying, end",
    [
        (TransientError("timed out"), True, PENDING),
        (TransientError("timed out"), False, FAILED),
        (PermanentError("HTTP Error 404"), True, FAILED),
    ],
)
def test_a_failure_is_retried_only_when_it_may_pass(
    video: Video, settings: Settings, monkeypatch, error: Exception, retrying: bool, end: str
) -> None:
    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(ytdlp, "download", fails)
    downloads.request(video.id, NOW)
    outcome = downloads.download_video(video.id, NOW, settings, retrying=retrying)
    assert (outcome.status, status(video)) == (end, end)
    assert outcome.transient is (end == PENDING)
    assert Video.get_by_id(video.id).download_error == str(error)


def test_a_download_that_keeps_dying_is_given_up(video: Video, settings: Settings) -> None:
    attempts = downloads.MAX_DOWNLOAD_ATTEMPTS
    Video.update(download_status=PENDING, download_attempts=attempts).execute()
    outcome = downloads.download_video(video.id, NOW, settings, retrying=True)
    assert outcome.status == FAILED and status(video) == FAILED
    assert f"gave up after {attempts} attempts" in (outcome.error or "")


def test_the_sweep_resends_lost_messages_once(video: Video, settings: Settings) -> None:
    Video.update(download_status=DOWNLOADING, updated_at=NOW).execute()
    later = NOW + settings.download_timeout + 61
    assert downloads.stuck(later, settings) == [video.id]  # its worker died
    assert status(video) == PENDING
    assert downloads.stuck(later + 1, settings) == []  # touched: not re-sent at once
    assert downloads.stuck(later + downloads.RESEND_AFTER + 2, settings) == [video.id]


def test_a_video_nobody_wants_is_never_swept(video: Video, settings: Settings) -> None:
    assert status(video) == NOT_WANTED
    assert downloads.stuck(NOW + 10**6, settings) == []


def fails_with(error: Exception):
    def download(*args, **kwargs):
        raise error

    return download


def attempt(video: Video, settings: Settings, monkeypatch, error: Exception):
    """Request ``video`` and run one download attempt that fails with ``error``."""
    monkeypatch.setattr(ytdlp, "download", fails_with(error))
    downloads.request(video.id, NOW)
    return downloads.download_video(video.id, NOW, settings, retrying=True)


def test_a_refused_address_ends_the_download_failed(video: Video, tmp_path: Path) -> None:
    # The guard on: the enclosure's 127.0.0.1 is refused before yt-dlp runs.
    settings = Settings(media_dir=tmp_path, allow_private_networks=False)
    downloads.request(video.id, NOW)
    outcome = downloads.download_video(video.id, NOW, settings, retrying=True)
    stored = Video.get_by_id(video.id)
    assert (outcome.status, stored.download_status, outcome.transient) == (FAILED, FAILED, False)
    assert "refused to download" in stored.download_error
    assert "loopback" in stored.download_error


@pytest.mark.parametrize("retrying, end", [(True, PENDING), (False, FAILED)])
def test_a_media_dir_that_is_a_file_is_recorded(
    video: Video, tmp_path: Path, retrying: bool, end: str
) -> None:
    media = tmp_path / "media"
    media.write_text("not a directory")
    settings = Settings(media_dir=media, allow_private_networks=True)
    downloads.request(video.id, NOW)
    outcome = downloads.download_video(video.id, NOW, settings, retrying=retrying)
    stored = Video.get_by_id(video.id)
    assert (outcome.status, stored.download_status) == (end, end)
    assert outcome.transient is retrying  # the operator's to fix: retried meanwhile
    assert f"media dir {media}" in stored.download_error


def test_an_unexpected_error_is_recorded_not_left_downloading(
    video: Video, settings: Settings, monkeypatch
) -> None:
    outcome = attempt(video, settings, monkeypatch, KeyError("boom"))
    assert outcome.status == FAILED and status(video) == FAILED
    assert Video.get_by_id(video.id).download_error == "internal error: KeyError: 'boom'"


def test_unavailable_content_is_final_and_never_requested_again(
    video: Video, settings: Settings, monkeypatch
) -> None:
    outcome = attempt(video, settings, monkeypatch, Unavailable("yt-dlp: Private video"))
    final = models.UNAVAILABLE
    assert (outcome.status, outcome.transient, status(video)) == (final, False, final)
    assert Video.get_by_id(video.id).download_error == "yt-dlp: Private video"
    assert not downloads.request(video.id, NOW + 1)  # a later poll does not want it again
    assert downloads.stuck(NOW + 10**6, settings) == []


def test_a_premiere_is_deferred_to_its_start_without_using_an_attempt(
    video: Video, settings: Settings, monkeypatch
) -> None:
    starts = NOW + 3 * 3600
    outcome = attempt(video, settings, monkeypatch, NotYetAvailable("Premieres in 3 hours", starts))
    # Too far off for a delayed message (RabbitMQ's consumer timeout): the sweep sends it.
    assert (outcome.status, outcome.retry_at, outcome.transient) == ("deferred", None, False)
    stored = Video.get_by_id(video.id)
    assert (stored.download_status, stored.available_at) == (PENDING, starts)
    assert stored.download_attempts == 0 and "Premieres in 3 hours" in stored.download_error
    # A message before the start does not run yt-dlp; the sweep waits until it starts.
    assert downloads.download_video(video.id, NOW + 1, settings, retrying=True).status == "skipped"
    assert downloads.stuck(starts - 1, settings) == []
    assert downloads.stuck(starts + 1, settings) == [video.id]

    monkeypatch.setattr(ytdlp, "download", lambda *a, **k: str(settings.media_dir / "x.mp4"))
    done = downloads.download_video(video.id, starts + 1, settings, retrying=False)
    assert done.status == COMPLETE


def test_a_premiere_soon_re_sends_itself_and_never_fails(
    video: Video, settings: Settings, monkeypatch
) -> None:
    for n in range(downloads.MAX_DOWNLOAD_ATTEMPTS + 2):  # put off again and again
        now = NOW + n * 600
        soon = NotYetAvailable("This live event will begin in 10 minutes.", now + 600)
        if n == 0:
            outcome = attempt(video, settings, monkeypatch, soon)
        else:
            monkeypatch.setattr(ytdlp, "download", fails_with(soon))
            outcome = downloads.download_video(video.id, now, settings, retrying=False)
        assert (outcome.status, outcome.retry_at) == ("deferred", now + 600)
    assert Video.get_by_id(video.id).download_attempts == 0
    assert status(video) == PENDING


def test_two_ids_alike_once_sanitised_get_two_files(settings: Settings, monkeypatch) -> None:
    channel = Channel.create(kind="feed", feed_url="http://127.0.0.1/g", created_at=NOW)
    names = []
    monkeypatch.setattr(ytdlp, "download", lambda url, d, *, name, **k: names.append(name) or name)
    for guid in ("выпуск-1", "эпизод-1", "http://127.0.0.1:18931/episodes/ep3.mp3"):
        v = Video.create(
            channel=channel, external_id=guid, url="http://127.0.0.1/e.mp3",
            discovered_at=NOW, updated_at=NOW,
        )  # fmt: skip
        downloads.request(v.id, NOW)
        assert downloads.download_video(v.id, NOW, settings, retrying=False).status == COMPLETE
    assert len(set(names)) == 3
    assert all(n.count("/") == 1 and n.startswith(f"{channel.id}/") for n in names)


@pytest.mark.slow
def test_up_with_a_media_dir_that_is_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.write_text("not a directory")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(TUBEPOLLER_DATA_DIR=str(tmp_path), TUBEPOLLER_MEDIA_DIR=str(media))
    done = subprocess.run(
        [str(TUBEPOLLER), "up", "--no-api"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"tubepoller: error: TUBEPOLLER_MEDIA_DIR '{media}': not a directory"
    ]


@pytest.mark.slow
def test_a_download_runs_at_a_lower_cpu_priority(video: Video, feeds, tmp_path: Path) -> None:
    from tests.support.answers import Route

    feeds.routes["/media/stall.mp4"] = Route(b"\0" * 200_000, "video/mp4", stall_after=50_000)
    url = feeds.url("/media/stall.mp4")
    Video.update(url=url).where(Video.id == video.id).execute()
    downloads.request(video.id, NOW)
    settings = Settings(
        media_dir=tmp_path, allow_private_networks=True, download_nice=7, download_timeout=10
    )
    seen: list[int] = []
    sessions: set[int] = set()

    def niceness() -> bool:
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and url.encode() in (entry / "cmdline").read_bytes():
                    seen.append(os.getpriority(os.PRIO_PROCESS, int(entry.name)))
                    sessions.add(os.getsid(int(entry.name)))
            except OSError:
                continue  # it ended while we looked
        return bool(seen)

    with ThreadPoolExecutor(1) as pool:
        done = pool.submit(downloads.download_video, video.id, NOW, settings, retrying=True)
        wait_for(niceness, 8, "yt-dlp to start the download")
        assert done.result(timeout=30).status == PENDING  # the stall timed out: retried

    assert set(seen) == {os.getpriority(os.PRIO_PROCESS, 0) + 7}
    # The worker's session: with autogroup scheduling, a session of its own would be a CPU
    # group weighed like the worker's, and the niceness would count for nothing against it.
    assert sessions == {os.getsid(0)}


def test_only_a_members_only_video_is_downloaded_with_the_cookies(
    settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    settings = Settings(media_dir=tmp_path, allow_private_networks=True, cookies_file=cookies)
    channel = Channel.create(
        kind="youtube", external_id="UC" + "x" * 22, feed_url="http://127.0.0.1/f", created_at=NOW
    )
    asked: dict[str, list[str]] = {}

    def download(url: str, dest: Path, *, name: str, extra_args=(), **kwargs) -> str:
        asked[name.rsplit("/", 1)[-1]] = list(extra_args)
        return str(dest / name)

    monkeypatch.setattr(ytdlp, "download", download)
    for external_id, media_type in (("members1234", "members_only"), ("public12345", "video")):
        v = Video.create(
            channel=channel, external_id=external_id, media_type=media_type,
            url=f"https://www.youtube.com/watch?v={external_id}",
            discovered_at=NOW, updated_at=NOW,
        )  # fmt: skip
        downloads.request(v.id, NOW)
        assert downloads.download_video(v.id, NOW, settings, retrying=False).status == COMPLETE
    members, public = (next(a for n, a in asked.items() if i in n) for i in ("members", "public"))
    assert members[-2:] == ["--cookies", str(cookies)]
    assert "--cookies" not in public
