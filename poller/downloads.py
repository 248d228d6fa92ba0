"""The download state machine: claim a wanted video, fetch it, record the outcome.

States: none → pending (wanted) → downloading → complete | failed. A video
is downloaded once, however many subscribers want it: only the worker whose
UPDATE moves it to `downloading` runs yt-dlp.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from . import host_turn, sources, ytdlp
from .config import Settings
from .errors import PermanentError, PollError
from .models import COMPLETE, DOWNLOADING, FAILED, NOT_WANTED, PENDING, Channel, Video, db
from .netguard import check_url
from .sources import youtube

log = logging.getLogger(__name__)

# Starts of one video's download (each retry, each redelivery after a killed worker) before
# it is given up as failed.
MAX_DOWNLOAD_ATTEMPTS = 5
RESEND_AFTER = 600.0  # a pending video untouched this long lost its message


@dataclass(frozen=True)
class DownloadOutcome:
    """What one download message did to its video."""

    video_id: int
    status: str  # complete | failed | pending (will retry) | skipped
    error: str | None = None
    transient: bool = False
    defer_s: float | None = None  # its host is paused or busy: send it again this much later


def request(video_id: int, now: float) -> bool:
    """Mark a video wanted; return False when it is complete or under way."""
    updated = (
        Video.update(download_status=PENDING, updated_at=now, download_attempts=0)
        .where((Video.id == video_id) & Video.download_status.in_([NOT_WANTED, FAILED]))
        .execute()
    )
    return bool(updated)


def download_video(
    video_id: int, now: float, settings: Settings, *, retrying: bool
) -> DownloadOutcome:
    """Download one wanted video unless another worker has it or it is done."""
    video = _start(video_id, now, settings)
    if video is None:
        return DownloadOutcome(video_id, "skipped")
    if video.download_attempts > MAX_DOWNLOAD_ATTEMPTS:
        return _finish_failed(video, now, f"gave up after {MAX_DOWNLOAD_ATTEMPTS} attempts")
    try:
        url = _source_url(video, settings)
        with host_turn.turn(url, settings, download=True) as host_args:
            path = ytdlp.download(
                url,
                settings.media_dir,
                name=f"{video.channel_id}/{video.external_id}",
                timeout=settings.download_timeout,
                extra_args=host_args,
            )
    except host_turn.HostBusy as exc:
        return _defer(video, now, exc)
    except PollError as exc:
        if exc.transient and retrying:
            _set(video.id, now, status=PENDING, download_error=str(exc)[:1000])
            return DownloadOutcome(video.id, PENDING, error=str(exc), transient=True)
        return _finish_failed(video, now, str(exc))
    _set(video.id, now, status=COMPLETE, download_path=path, download_error=None)
    return DownloadOutcome(video.id, COMPLETE)


def stuck(now: float, settings: Settings, limit: int = 500) -> list[int]:
    """Return wanted videos whose message was lost, touching them so each is re-sent once.

    A `downloading` video older than the download timeout lost its worker;
    a `pending` one untouched for RESEND_AFTER lost its message.
    """
    with db.atomic():
        Video.update(download_status=PENDING, updated_at=now - RESEND_AFTER - 1).where(
            (Video.download_status == DOWNLOADING)
            & (Video.updated_at < now - settings.download_timeout - 60)
        ).execute()
        ids = [
            v.id
            for v in Video.select(Video.id)
            .where((Video.download_status == PENDING) & (Video.updated_at < now - RESEND_AFTER))
            .limit(limit)
        ]
        if ids:
            Video.update(updated_at=now).where(Video.id.in_(ids)).execute()
    return ids


def _start(video_id: int, now: float, settings: Settings) -> Video | None:
    """Move a pending video to `downloading`; None when someone else has it."""
    stale = now - settings.download_timeout - 60
    query = (
        Video.update(
            download_status=DOWNLOADING,
            download_attempts=Video.download_attempts + 1,
            updated_at=now,
        )
        .where(
            (Video.id == video_id)
            & (
                (Video.download_status == PENDING)
                | ((Video.download_status == DOWNLOADING) & (Video.updated_at < stale))
            )
        )
        .returning(Video)
    )
    with db.atomic():
        rows = list(query.execute())
    return rows[0] if rows else None


def _source_url(video: Video, settings: Settings) -> str:
    channel = Channel.get_by_id(video.channel_id)
    if channel.kind == sources.YOUTUBE:
        return youtube.watch_url(video.external_id, settings.youtube_url)
    if not video.url:
        raise PermanentError("the feed gives this entry no link to download")
    # yt-dlp fetches whatever a feed links to: apply the subscribe-time guard.
    check_url(video.url, allow_private=settings.allow_private_networks)
    return video.url


def _defer(video: Video, now: float, exc: host_turn.HostBusy) -> DownloadOutcome:
    """Put a download off while its host is paused or busy: pending, the attempt not counted."""
    _set(
        video.id,
        now,
        status=PENDING,
        download_error=str(exc)[:1000],
        download_attempts=max(0, video.download_attempts - 1),
    )
    return DownloadOutcome(video.id, PENDING, error=str(exc), defer_s=exc.retry_after_s or 60.0)


def _finish_failed(video: Video, now: float, error: str) -> DownloadOutcome:
    _set(video.id, now, status=FAILED, download_error=error[:1000])
    return DownloadOutcome(video.id, FAILED, error=error)


def _set(video_id: int, now: float, *, status: str, **fields: object) -> None:
    Video.update(download_status=status, updated_at=now, **fields).where(
        Video.id == video_id
    ).execute()
