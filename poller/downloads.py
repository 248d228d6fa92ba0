"""The download state machine: claim a wanted video, fetch it, record the outcome.

States: none → pending (wanted) → downloading → complete | failed | unavailable.
A video is downloaded once, however many subscribers want it: only the worker
whose UPDATE moves it to `downloading` fetches it (`direct` for a feed's media
link, yt-dlp for pages and YouTube). An upcoming premiere goes back to pending
with `available_at` set to its start, and is tried again then.
Every attempt ends in a recorded state, whatever goes wrong.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from peewee import Cast, Value

from . import direct, download_slots, host_turn, kinds, notify_store, sources, ytdlp
from .config import Settings
from .errors import (
    InternalError,
    NotYetAvailable,
    PermanentError,
    PollError,
    Unavailable,
    UnusableURL,
)
from .models import (
    COMPLETE,
    DOWNLOAD_FAILED,
    DOWNLOADED,
    DOWNLOADING,
    FAILED,
    NOT_WANTED,
    PENDING,
    UNAVAILABLE,
    Channel,
    Event,
    UserVideoRef,
    Video,
    db,
)
from .netguard import check_url
from .sources import youtube
from .store import EVENT_COLUMNS, lock_event_ids

log = logging.getLogger(__name__)

# Starts of one video's download (each retry, each redelivery after a killed worker) before
# it is given up as failed.
MAX_DOWNLOAD_ATTEMPTS = 5
RESEND_AFTER = 600.0  # a pending video untouched this long lost its message
# Longest delay a deferred download re-sends itself with. A delayed message waits unacked in
# a worker, and RabbitMQ closes a channel holding a delivery past its 30-minute consumer
# timeout; a premiere further off is sent by the sweep once it is due.
MAX_RESEND_DELAY = 1200.0
# A message that comes this much before a video's `available_at` is early: not started.
EARLY_SLACK = 60.0


@dataclass(frozen=True)
class DownloadOutcome:
    """What one download message did to its video."""

    video_id: int
    # complete | failed | unavailable | pending (will retry) | deferred | skipped | waiting
    # (every download slot of the process was taken: `defer_s` says when to send it again)
    status: str
    error: str | None = None
    transient: bool = False
    # Deferred: when the actor re-sends the message (epoch seconds); None when the
    # sweep is to send it (a start more than MAX_RESEND_DELAY away).
    retry_at: float | None = None
    defer_s: float | None = None  # its host is paused or busy: send it again this much later
    notice_ids: list[int] = field(default_factory=list)  # deliveries for the `notify` queue


def request(video_id: int, now: float) -> bool:
    """Mark a video wanted; return False when it is complete or under way."""
    updated = (
        Video.update(download_status=PENDING, updated_at=now, download_attempts=0)
        .where((Video.id == video_id) & Video.download_status.in_([NOT_WANTED, FAILED]))
        .execute()
    )
    return bool(updated)


def hand_to_sweep(video_ids: list[int], now: float) -> None:
    """Date pending videos back so the next tick's lost-download sweep sends them.

    A process that cannot reach the workers (the CLI beside an embedded
    `tubepoller up`) marks downloads wanted but cannot send them; dated as
    lost, they start within a tick instead of after RESEND_AFTER.
    """
    if video_ids:
        Video.update(updated_at=now - RESEND_AFTER - 1).where(
            Video.id.in_(video_ids) & (Video.download_status == PENDING)
        ).execute()


def download_video(
    video_id: int, now: float, settings: Settings, *, retrying: bool
) -> DownloadOutcome:
    """Download one wanted video unless another worker has it or it is done.

    At most `settings.downloads_per_process` run at once in a process; past
    that the video is left pending and the outcome says when to send it again.
    """
    with download_slots.SLOTS.take(settings.downloads_per_process) as free:
        if not free:
            return _wait_for_slot(video_id, now, settings)
        return _download(video_id, now, settings, retrying=retrying)


def _wait_for_slot(video_id: int, now: float, settings: Settings) -> DownloadOutcome:
    """Leave a video pending, its message to be sent again when a slot may be free."""
    # Touched, so the sweep does not take its message for lost while it waits.
    Video.update(updated_at=now).where(
        (Video.id == video_id) & (Video.download_status == PENDING)
    ).execute()
    error = f"{settings.downloads_per_process} downloads under way in this process"
    return DownloadOutcome(video_id, "waiting", error=error, defer_s=download_slots.wait_s())


def _download(video_id: int, now: float, settings: Settings, *, retrying: bool) -> DownloadOutcome:
    video = _start(video_id, now, settings)
    if video is None:
        return DownloadOutcome(video_id, "skipped")
    if video.download_attempts > MAX_DOWNLOAD_ATTEMPTS:
        return _finish_failed(video, now, f"gave up after {MAX_DOWNLOAD_ATTEMPTS} attempts")
    try:
        path = _fetch(video, settings)
    except NotYetAvailable as exc:
        return _defer(video, now, exc)
    except Unavailable as exc:
        _set(video.id, now, status=UNAVAILABLE, download_error=str(exc)[:1000])
        return DownloadOutcome(video.id, UNAVAILABLE, error=str(exc))
    except host_turn.HostBusy as exc:
        return _defer_busy(video, now, exc)
    except PollError as exc:
        if exc.transient and retrying:
            _set(video.id, now, status=PENDING, download_error=str(exc)[:1000])
            return DownloadOutcome(video.id, PENDING, error=str(exc), transient=True)
        return _finish_failed(video, now, str(exc))
    except Exception as exc:
        # A bug must not leave the video `downloading` until the sweep: record it.
        log.exception("download video=%s failed unexpectedly", video.id)
        return _finish_failed(video, now, str(InternalError(exc)))
    with db.atomic():
        _set(video.id, now, status=COMPLETE, download_path=path, download_error=None)
        notices = _tell(video, DOWNLOADED, {"path": path}, now)
    return DownloadOutcome(video.id, COMPLETE, notice_ids=notices)


def _tell(video: Video, kind: str, payload: dict, now: float, key: str = "") -> list[int]:
    """Write a `kind` event for every user with a reference to the video; queue deliveries.

    Two statements whatever the number of users and targets; run in the
    transaction that records the outcome, and send the ids after its commit.
    """
    lock_event_ids()
    dedup = Value(kind + ":").concat(Cast(UserVideoRef.user, "TEXT")).concat(f":{video.id}{key}")
    rows = UserVideoRef.select(
        UserVideoRef.user,
        Value(kind),
        Value(video.channel_id),
        Value(video.id),
        dedup,
        Value(json.dumps(payload)),
        Value(now),
    ).where(UserVideoRef.video == video.id)
    Event.insert_from(rows, EVENT_COLUMNS).on_conflict_ignore().execute()
    return notify_store.queue(kind, (Event.video == video.id) & (Event.created_at == now), now)


def _defer(video: Video, now: float, exc: NotYetAvailable) -> DownloadOutcome:
    """Put an upcoming video back to pending until it starts; the attempt does not count."""
    at = max(exc.at, now + 60)
    _set(
        video.id,
        now,
        status=PENDING,
        available_at=at,
        download_error=str(exc)[:1000],
        download_attempts=Video.download_attempts - 1,
    )
    resend = at if at - now <= MAX_RESEND_DELAY else None
    return DownloadOutcome(video.id, "deferred", error=str(exc), retry_at=resend)


def stuck(now: float, settings: Settings, limit: int = 500) -> list[int]:
    """Return wanted videos whose message was lost, touching them so each is re-sent once.

    A `downloading` video older than the download timeout lost its worker;
    a `pending` one untouched for RESEND_AFTER lost its message. A pending
    premiere is not due before its `available_at`.
    """
    with db.atomic():
        Video.update(download_status=PENDING, updated_at=now - RESEND_AFTER - 1).where(
            (Video.download_status == DOWNLOADING)
            & (Video.updated_at < now - settings.download_timeout - 60)
        ).execute()
        ids = [
            v.id
            for v in Video.select(Video.id)
            .where(
                (Video.download_status == PENDING)
                & (Video.updated_at < now - RESEND_AFTER)
                & (Video.available_at.is_null() | (Video.available_at <= now))
            )
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
            # An upcoming video is not tried before it starts; the sweep sends it then.
            & (Video.available_at.is_null() | (Video.available_at <= now + EARLY_SLACK))
        )
        .returning(Video)
    )
    with db.atomic():
        rows = list(query.execute())
    return rows[0] if rows else None


def _fetch(video: Video, settings: Settings) -> str:
    """Download the video's file and return its path.

    A feed's link is fetched through the guarded client first (`direct`): media is
    saved from there, so no redirect takes yt-dlp past the address guard; only a page
    goes on to yt-dlp, at the URL its checked redirects ended on.
    """
    started = time.monotonic()
    stem = ytdlp.file_stem(video.channel_id, video.external_id)
    url = _source_url(video, settings)
    # One turn at the host's budget for the whole download (raises HostBusy).
    members_only = video.media_type == kinds.MEMBERS_ONLY
    with host_turn.turn(url, settings, download=True, members_only=members_only) as host_args:
        if Channel.get_by_id(video.channel_id).kind != sources.YOUTUBE:
            got = direct.download(
                url,
                ytdlp.prepare_dir(settings.media_dir),
                stem=stem,
                timeout=settings.download_timeout,
                max_redirects=settings.max_redirects,
                allow_private=settings.allow_private_networks,
            )
            if isinstance(got, str):
                return got
            url = got.url
        return ytdlp.download(
            url,
            settings.media_dir,
            name=stem,
            timeout=max(1.0, settings.download_timeout - (time.monotonic() - started)),
            label=f"video={video.id} channel={video.channel_id}",
            extra_args=host_args,
            nice=settings.download_nice,
        )


def _source_url(video: Video, settings: Settings) -> str:
    channel = Channel.get_by_id(video.channel_id)
    if channel.kind == sources.YOUTUBE:
        return youtube.watch_url(video.external_id, settings.youtube_url)
    if not video.url:
        raise PermanentError("the feed gives this entry no link to download")
    # The subscribe-time guard, before any connection; `direct` checks every hop again.
    try:
        check_url(video.url, allow_private=settings.allow_private_networks)
    except UnusableURL as exc:
        raise PermanentError(f"refused to download {video.url[:200]}: {exc}") from None
    return video.url


def _defer_busy(video: Video, now: float, exc: host_turn.HostBusy) -> DownloadOutcome:
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
    with db.atomic():
        _set(video.id, now, status=FAILED, download_error=error[:1000])
        # A video may fail again after it is asked for again: one event per failure.
        key = f":{video.download_attempts}:{now!r}"
        notices = _tell(video, DOWNLOAD_FAILED, {"error": error[:1000]}, now, key)
    return DownloadOutcome(video.id, FAILED, error=error, notice_ids=notices)


def _set(video_id: int, now: float, *, status: str, **fields: object) -> None:
    Video.update(download_status=status, updated_at=now, **fields).where(
        Video.id == video_id
    ).execute()
