"""Write a poll's outcome: videos, references, events, download marks, schedule.

Every function here runs a fixed number of queries, whatever the number of
subscribers or videos: references and events are written with one
INSERT … SELECT each, so a channel with 100 subscribers costs what one with
a single subscriber does. Every write is idempotent (unique keys + ON CONFLICT
DO NOTHING), so a redelivered message changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from peewee import Cast, Expression, PostgresqlDatabase, Value, chunked, fn

from . import kinds, notify_store
from .decide import NewVideo, Rechecked, Reschedule, StoreEntries
from .include_filter import included
from .models import (
    CATALOGED,
    NEW_EPISODE,
    NOT_WANTED,
    PENDING,
    UNAVAILABLE,
    Channel,
    Event,
    Subscription,
    UserVideoRef,
    Video,
    db,
)
from .sql import compiled

INSERT_CHUNK = 500  # rows per INSERT: 11 columns stay far below SQLite's variable limit


@dataclass(frozen=True)
class Saved:
    """What a poll added to the catalog."""

    new_video_ids: list[int]  # announced uploads (and premieres that started)
    backfill_count: int  # back-catalog videos cataloged quietly
    download_ids: list[int]  # videos to send to the download queue
    notice_ids: list[int] = field(default_factory=list)  # deliveries to send to `notify`


def finish_unchanged(
    channel: Channel, now: float, plan: Reschedule, outcome: str, warning: str | None
) -> None:
    """Reschedule a channel whose poll found nothing new; release its claim."""
    _finish(channel, now, plan, {Channel.last_outcome: outcome, Channel.warning: warning})


def save_new(channel: Channel, now: float, plan: StoreEntries) -> Saved:
    """Store a poll's new videos, their references and events, in one transaction.

    Entries already stored are skipped (a redelivered poll changes nothing);
    of the announced ones, those in `plan.download_ids` are marked pending.
    A subscriber gets references, events and downloads only of the kinds
    their `include` takes (`include_filter.included`). Upcoming videos are
    referenced now and announced by the poll that finds them watchable.
    """
    rows = _video_rows(channel.id, now, plan.videos)
    with db.atomic():
        inserted = _insert_videos(rows)
        announced = [v for v in inserted if not v.backfill and kinds.announceable(v.media_type)]
        backfill_count = sum(1 for v in inserted if v.backfill)
        downloads: list[int] = []
        notices: list[int] = []
        started = _apply_rechecks(plan.rechecked, now)
        if inserted or started:
            lock_event_ids()  # the events below commit in id order
        if inserted:
            first_new = min(v.id for v in inserted)
            _reference(channel.id, Video.id >= first_new, now)
            if announced:
                _announce(channel.id, (Video.id >= first_new) & ~Video.backfill, now)
                downloads = [v.id for v in announced if v.external_id in plan.download_ids]
            if backfill_count:
                _summarise(channel.id, first_new, now)
        if started:
            _reference(channel.id, Video.id.in_(started), now)
            _announce(channel.id, Video.id.in_(started) & ~Video.backfill, now)
            downloads += sorted(plan.rechecked.download_ids)
        _mark_downloads(downloads, now)
        announced_ids = [v.id for v in announced] + started
        if announced_ids:
            where = (Event.channel == channel.id) & Event.video.in_(announced_ids)
            notices = notify_store.queue(NEW_EPISODE, where, now)
        extra: dict[Any, Any] = {
            Channel.upload_history: json.dumps(plan.history),
            Channel.last_outcome: f"new={len(announced_ids)}" if announced_ids else "unchanged",
            Channel.upcoming_due_at: plan.upcoming_due_at,
            Channel.warning: plan.warning,
        }
        extra[Channel.catalog_error] = plan.catalog_error and plan.catalog_error[:1000]
        if plan.catalog_error is None and channel.cataloged_at is None:
            extra[Channel.cataloged_at] = now
        if plan.title:
            extra[Channel.title] = plan.title
        _finish(channel, now, plan.reschedule, extra)
    return Saved(announced_ids, backfill_count, downloads, notices)


def _apply_rechecks(rechecked: Rechecked, now: float) -> list[int]:
    """Write what re-checking upcoming videos found; return the ids to announce.

    A few statements per kind, and only on the polls that re-check: a
    premiere's start is rare beside polls.
    """
    for media_type in sorted(set(rechecked.started.values())):
        ids = [i for i, kind in rechecked.started.items() if kind == media_type]
        # Still upcoming in the row (a redelivered poll): no second announcement.
        Video.update(media_type=media_type, updated_at=now).where(
            Video.id.in_(ids) & (Video.media_type == kinds.UPCOMING)
        ).execute()
    for video_id, start in rechecked.waiting.items():
        Video.update(available_at=start, updated_at=now).where(Video.id == video_id).execute()
    if rechecked.gone:
        Video.update(
            download_status=UNAVAILABLE,
            download_error="gone: the premiere or stream left the feed after its start",
            updated_at=now,
        ).where(Video.id.in_(list(rechecked.gone))).execute()
    return sorted(i for i, kind in rechecked.started.items() if kinds.announceable(kind))


# The advisory lock that makes event ids commit in the order they are given.
EVENT_IDS_LOCK = 0x74756265  # "tube"


def lock_event_ids() -> None:
    """On PostgreSQL, hold the event-id lock until this transaction ends.

    A sequence gives ids at insert time; two transactions can commit them
    out of order (11 before 10), and a reader of ``?after=<last id>`` that
    saw 11 would never see 10. Writers of events take this lock before
    their first insert and keep it to the commit, so a smaller id is always
    committed (or rolled back) before a larger one is. SQLite has one writer
    at a time already.
    """
    if isinstance(db.obj, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (EVENT_IDS_LOCK,))


def record_failure(
    channel_id: int,
    error: str,
    now: float,
    next_poll_at: float,
    *,
    claimed_until: float = 0,
    charge: bool = True,
    kind: str | None = None,
) -> None:
    """Record a failed poll: count it, keep the reason, push the next poll out.

    `claimed_until` stays in the future while Dramatiq retries the message,
    so the tick does not enqueue the channel beside the retry. `charge=False`
    records a failure that is the platform's (its host is degraded): the
    reason is kept, the failure is not counted. `kind` is how it counted for
    the host (`host_signals.classify`), which tells a platform outage.
    """
    Channel.update(
        consecutive_failures=Channel.consecutive_failures + (1 if charge else 0),
        last_error=error[:1000],
        last_error_at=now,
        last_outcome="failed",
        last_failure_kind=kind,
        next_poll_at=next_poll_at,
        claimed_until=claimed_until,
        poll_attempts=0,
    ).where((Channel.id == channel_id) & Channel.next_poll_at.is_null(False)).execute()


def defer(channel_id: int, now: float, next_poll_at: float, reason: str | None = None) -> None:
    """Put a poll off until its host takes requests again; charge the channel nothing.

    The claim is released and no failure is counted: the host is paused (a
    bot check, a 429), not the channel. `reason` is the answer that paused
    the host, when this poll got it.
    """
    fields: dict[Any, Any] = {
        Channel.last_outcome: "deferred",
        Channel.next_poll_at: next_poll_at,
        Channel.claimed_until: 0,
        Channel.poll_attempts: 0,
    }
    if reason is not None:
        fields[Channel.last_error] = reason[:1000]
        fields[Channel.last_error_at] = now
    Channel.update(fields).where(
        (Channel.id == channel_id) & Channel.next_poll_at.is_null(False)
    ).execute()


def _finish(channel: Channel, now: float, plan: Reschedule, extra: dict) -> None:
    fields = {
        Channel.last_polled_at: now,
        Channel.next_poll_at: plan.next_poll_at,
        Channel.interval_s: plan.interval_s,
        Channel.consecutive_failures: 0,
        Channel.last_error: None,
        Channel.poll_attempts: 0,
        Channel.claimed_until: 0,
        **extra,
    }
    if plan.weight is not None:
        fields[Channel.poll_weight] = plan.weight
    if plan.etag is not None:
        fields[Channel.etag] = plan.etag
    if plan.last_modified is not None:
        fields[Channel.last_modified] = plan.last_modified
    # peewee writes SET columns in the model's field order; _compiled checks.
    columns = [f for f in Channel._meta.sorted_fields if f in fields]
    params = [f.db_value(fields[f]) for f in columns] + [channel.id]
    sql = compiled(
        ("finish", *(f.column_name for f in columns)),
        # An unsubscribed channel (next_poll_at NULL) stays unscheduled.
        lambda: Channel.update(fields).where(
            (Channel.id == channel.id) & Channel.next_poll_at.is_null(False)
        ),
        params,
    )
    db.execute_sql(sql, params)


def _video_rows(channel_id: int, now: float, videos: Iterable[NewVideo]) -> list[dict]:
    return [
        {
            "channel": channel_id,
            "external_id": v.entry.external_id,
            "title": v.entry.title,
            "url": v.entry.url,
            "published_at": v.entry.published_at,
            "discovered_at": now,
            "backfill": v.arrival.backfill,
            "media_type": v.arrival.media_type,
            "available_at": v.arrival.available_at,
            "download_status": NOT_WANTED,
            "download_attempts": 0,
            "updated_at": now,
        }
        for v in videos
    ]


def _insert_videos(rows: list[dict]) -> list[Video]:
    """Insert the rows not stored yet; return exactly those (RETURNING)."""
    inserted: list[Video] = []
    for chunk in chunked(rows, INSERT_CHUNK):
        query = (
            Video.insert_many(chunk)
            .on_conflict_ignore()
            .returning(Video.id, Video.external_id, Video.backfill, Video.media_type)
        )
        inserted += list(query.execute())
    return inserted


def _reference(channel_id: int, videos: Expression, now: float) -> None:
    """Give every subscriber a reference to each of `videos` of a kind they include."""
    pairs = (
        Subscription.select(Subscription.user, Video.id, Value(now))
        .join(Video, on=(Video.channel == Subscription.channel))
        .where((Subscription.channel == channel_id) & videos & included())
    )
    UserVideoRef.insert_from(
        pairs, [UserVideoRef.user, UserVideoRef.video, UserVideoRef.created_at]
    ).on_conflict_ignore().execute()


# The columns of an event about a video, in the order its INSERT … SELECT gives them.
EVENT_COLUMNS = [
    Event.user,
    Event.kind,
    Event.channel,
    Event.video,
    Event.dedup_key,
    Event.payload,
    Event.created_at,
]


def _announce(channel_id: int, videos: Expression, now: float) -> None:
    """Write one `new_episode` event per subscriber and watchable video of `videos`.

    Only kinds the subscriber includes; an upcoming one waits for its start.
    """
    key = (
        Value(NEW_EPISODE + ":")
        .concat(Cast(Subscription.user, "TEXT"))
        .concat(":")
        .concat(Cast(Video.id, "TEXT"))
    )
    events = (
        Subscription.select(
            Subscription.user,
            Value(NEW_EPISODE),
            Subscription.channel,
            Video.id,
            key,
            Value("{}"),
            Value(now),
        )
        .join(Video, on=(Video.channel == Subscription.channel))
        .where(
            (Subscription.channel == channel_id)
            & videos
            & Video.media_type.in_([k for k in kinds.MEDIA_TYPES if kinds.announceable(k)])
            & included()
        )
    )
    Event.insert_from(events, EVENT_COLUMNS).on_conflict_ignore().execute()


def _summarise(channel_id: int, first_new: int, now: float) -> None:
    """Write one `catalog` event per subscriber for a batch of back-catalog videos.

    Its count is of the videos of the kinds that subscriber includes; one
    who includes none of the batch gets no event.
    """
    key = (
        Value(CATALOGED + ":")
        .concat(Cast(Subscription.user, "TEXT"))
        .concat(f":{channel_id}:{first_new}")
    )
    payload = Value('{"videos": ').concat(Cast(fn.COUNT(Video.id), "TEXT")).concat("}")
    events = (
        Subscription.select(
            Subscription.user,
            Value(CATALOGED),
            Subscription.channel,
            key,
            payload,
            Value(now),
        )
        .join(Video, on=(Video.channel == Subscription.channel))
        .where(
            (Subscription.channel == channel_id)
            & (Video.id >= first_new)
            & Video.backfill
            & included()
        )
        .group_by(Subscription.user, Subscription.channel)
    )
    Event.insert_from(
        events,
        [Event.user, Event.kind, Event.channel, Event.dedup_key, Event.payload, Event.created_at],
    ).on_conflict_ignore().execute()


def _mark_downloads(video_ids: list[int], now: float) -> None:
    """Mark videos wanted by some subscription as pending download."""
    if video_ids:
        Video.update(download_status=PENDING, updated_at=now).where(
            Video.id.in_(video_ids) & (Video.download_status == NOT_WANTED)
        ).execute()
