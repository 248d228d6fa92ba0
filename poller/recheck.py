"""Upcoming videos looked at again: started, still waiting, or gone (pure).

A premiere or a scheduled stream is cataloged `upcoming` and announced only
once watchable. The channel's next poll is brought forward to its re-check
(`window.recheck_at`); that poll loads the channel's upcoming videos, and
these functions say, from what the playlist feeds, yt-dlp and the feed
showed, what each due one is now and when the channel looks again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import kinds, window
from .gating import Gate, should_download
from .parse import ParsedFeed


@dataclass(frozen=True)
class Upcoming:
    """One stored upcoming video, loaded when the channel's re-check is due."""

    video_id: int
    external_id: str
    start_at: float | None  # Video.available_at
    checked_at: float  # Video.updated_at: when it was last looked at
    discovered_at: float
    published_at: float | None
    backfill: bool


@dataclass(frozen=True)
class Rechecked:
    """What re-checking the channel's due upcoming videos found.

    Attributes:
        started: video id → the kind it is now watchable as; announced (and
            downloaded per gating) unless it is back catalog.
        waiting: video id → its start (maybe new) for those still upcoming.
        gone: ids of premieres that vanished: marked unavailable, for good.
    """

    started: Mapping[int, str] = field(default_factory=dict)
    waiting: Mapping[int, float | None] = field(default_factory=dict)
    gone: Sequence[int] = ()
    download_ids: frozenset[int] = frozenset()


def due(upcoming: Sequence[Upcoming], now: float) -> list[Upcoming]:
    """Return the upcoming videos whose re-check has come, earliest first."""
    at = {u.external_id: window.recheck_at(u.start_at, u.checked_at) for u in upcoming}
    order = window.due_upcoming(at, now)
    by_id = {u.external_id: u for u in upcoming}
    return [by_id[vid] for vid in order]


def recheck(
    due: Sequence[Upcoming],
    placement: kinds.Placement,
    in_lists: set[str],
    metadata: Mapping[str, Mapping[str, Any]],
    feed: ParsedFeed | None,
    now: float,
) -> Rechecked:
    """Return what the due upcoming videos are now: started, still waiting, or gone."""
    started: dict[int, str] = {}
    waiting: dict[int, float | None] = {}
    gone: list[int] = []
    feed_ids = {e.external_id for e in feed.entries} if feed is not None else set()
    feed_dates = [e.published_at for e in feed.entries] if feed is not None else []
    for u in due:
        info = metadata.get(u.external_id)
        if info is not None and kinds.from_metadata(info) != kinds.UPCOMING:
            started[u.video_id] = kinds.from_metadata(info)
        elif info is not None:
            waiting[u.video_id] = kinds.start_time(info) or u.start_at
        elif u.external_id in in_lists and u.external_id in placement.kinds:
            started[u.video_id] = placement.kinds[u.external_id]
        elif window.premiere_gone(
            u.start_at,
            u.discovered_at,
            # A 304 shows no entries: it says nothing of this one either.
            feed is None or u.external_id in feed_ids,
            window.pushed_out(u.published_at, feed_dates),
            now,
        ):
            gone.append(u.video_id)
        else:
            waiting[u.video_id] = u.start_at
    return Rechecked(started, waiting, gone)


def started_downloads(
    started: Sequence[Upcoming], rechecked: Rechecked, gates: Sequence[Gate], now: float
) -> frozenset[int]:
    """Return the ids of the started videos some subscription downloads by itself.

    A premiere counts from its start: one scheduled before a subscription
    and shown after it is a new upload to that subscriber.
    """
    wanted_ids = set()
    for u in started:
        kind = rechecked.started[u.video_id]
        if u.backfill or not kinds.announceable(kind):
            continue
        dated = max(filter(None, (u.published_at, u.start_at)), default=None)
        if any(
            kinds.wants(g.include, kind)
            and should_download(g.mode, g.subscribed_at, dated, now, False)
            for g in gates
        ):
            wanted_ids.add(u.video_id)
    return frozenset(wanted_ids)


def next_recheck(
    stored_due_at: float | None,
    upcoming: Sequence[Upcoming] | None,
    due_now: Sequence[Upcoming],
    rechecked: Rechecked,
    arrivals: Sequence[float],
    now: float,
) -> float | None:
    """Return the channel's earliest re-check after this poll, None when nothing waits.

    Args:
        stored_due_at: the channel's re-check before this poll.
        upcoming: every stored upcoming video when a re-check was due (the
            answer is then computed afresh), None otherwise (the stored one stays).
        due_now: those of them this poll re-checked.
        rechecked: what the re-check found.
        arrivals: the re-check times of the upcoming videos this poll found.
        now: the current time.
    """
    times = list(arrivals)
    if upcoming is None:
        if stored_due_at is not None:
            times.append(stored_due_at)
        return min(times, default=None)
    due_ids = {u.video_id for u in due_now}
    for u in upcoming:
        if u.video_id not in due_ids:
            times.append(window.recheck_at(u.start_at, u.checked_at))
        elif u.video_id in rechecked.waiting:
            times.append(window.recheck_at(rechecked.waiting[u.video_id], now))
    return min(times, default=None)
