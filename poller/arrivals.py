"""What each video a poll finds new is, and whether it is announced (pure).

Brings the rules of `poller.kinds` and `poller.window` together for one
poll: the decider calls `sort_arrivals` with what the poll fetched and
stores the answer as it is (media_type, available_at, backfill), announcing
only the arrivals marked `announce`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import kinds, window


@dataclass(frozen=True)
class Seen:
    """One new id as the feed (or a gap listing) showed it.

    Attributes:
        external_id: the video id.
        published_at: its date, None when undated.
        start_at: a start time the source gave (an upcoming entry), else None.
        listed: found by a gap listing (`window.listing_new_uploads`), which
            already judged it a new upload by its place in the listing.
    """

    external_id: str
    published_at: float | None
    start_at: float | None = None
    listed: bool = False


@dataclass(frozen=True)
class Arrival:
    """What to store for one new video.

    Attributes:
        external_id: the video id.
        media_type: one of kinds.MEDIA_TYPES.
        available_at: an upcoming video's start, else None.
        backfill: back catalog: referenced, never announced or downloaded.
        announce: a new upload that may be announced (and downloaded) now.
        recheck_at: when an upcoming new upload is looked at again, else None.
    """

    external_id: str
    media_type: str
    available_at: float | None
    backfill: bool
    announce: bool
    recheck_at: float | None


def sort_arrivals(
    seen: Sequence[Seen],
    now: float,
    *,
    first_poll: bool,
    placed: Mapping[str, str],
    metadata: Mapping[str, Mapping[str, Any]],
    known_in_window: Sequence[float | None],
    last_announced_at: float | None,
) -> list[Arrival]:
    """Return what each new id is and whether it is a new upload to announce.

    Args:
        seen: the new ids of the feed, then the gap listing's new uploads.
        now: the current time.
        first_poll: the channel's first poll, when all it shows is back catalog.
        placed: media types the playlist feeds gave (`kinds.place`).
        metadata: yt-dlp info of the ids it was asked about.
        known_in_window: dates of this feed's entries already cataloged.
        last_announced_at: date of the channel's newest announced upload.

    yt-dlp's metadata is the most precise source, so it wins; then a start
    time the feed gave (an entry that is not watchable yet); then the
    playlist a feed placed it in. An id nothing placed is a video: that is
    what the channel feed (UU) lists when nothing narrower does.
    """
    arrivals = []
    for item in seen:
        vid = item.external_id
        if vid in metadata:
            media_type = kinds.from_metadata(metadata[vid])
            start = kinds.start_time(metadata[vid])
        elif item.start_at is not None:
            media_type, start = kinds.UPCOMING, item.start_at
        else:
            media_type, start = placed.get(vid, kinds.VIDEO), None
        # A listed id is not compared by date: a listing's dates are
        # approximate ("1 day ago"), its order is not.
        backfill = first_poll or (
            not item.listed
            and window.slid_back(item.published_at, known_in_window, last_announced_at)
        )
        upcoming = media_type == kinds.UPCOMING
        arrivals.append(
            Arrival(
                external_id=vid,
                media_type=media_type,
                available_at=start if upcoming else None,
                backfill=backfill,
                announce=not backfill and kinds.announceable(media_type),
                # A back-catalog premiere is looked at too: it still becomes
                # watchable, and its kind (video or live) is then known.
                recheck_at=window.recheck_at(start, now) if upcoming else None,
            )
        )
    return arrivals


def unplaced_to_probe(new_ids: Sequence[str], placement: kinds.Placement, limit: int) -> list[str]:
    """Return the ids worth a yt-dlp metadata request, at most `limit`.

    Only ids the playlist feeds could not place are asked about, newest
    first, within a per-poll limit taken from the host's request budget: a
    burst must not turn one poll into dozens of page loads.
    """
    pending = set(placement.unplaced)
    return [vid for vid in new_ids if vid in pending][:limit]
