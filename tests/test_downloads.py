"""The download state machine: wanted → downloading → complete | failed, once per video."""

from __future__ import annotations

from pathlib import Path

import pytest

from poller import downloads, ytdlp
from poller.config import Settings
from poller.errors import PermanentError, TransientError
from poller.models import COMPLETE, DOWNLOADING, FAILED, NOT_WANTED, PENDING, Channel, Video

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
