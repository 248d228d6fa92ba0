"""The feed's 15-entry window and upcoming videos: what is new, what is due.

Pure decisions taking `now`. YouTube's channel feed shows the 15 newest
uploads and nothing else, so two things look alike in it: a burst of more
than 15 uploads pushes some out unseen, and deleting one of the 15 lets the
16th slide back in looking new (YOUTUBE-NOTES.md, "Feeds").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# The channel feed shows this many newest uploads (YOUTUBE-NOTES.md, "Feeds").
WINDOW = 15

# A premiere's countdown and the first minutes of a stream are not a file yet:
# re-check a little after the announced start rather than at it.
START_MARGIN_S = 300.0
# An upcoming video without a known start (a feed says nothing of it): look
# again at a pace that costs little and still announces it within the hour.
UNKNOWN_START_RECHECK_S = 3600.0
# A start that passed while the video is still upcoming (late start, a long
# stream still running, a recording still processing): look again this often.
LATE_RECHECK_S = 900.0
# How long after its start a premiere may be missing from the feed before it
# is called gone: a feed can lag, and a rescheduled premiere comes back.
GONE_AFTER_S = 86400.0


def recheck_at(start_at: float | None, checked_at: float) -> float:
    """Return when an upcoming video is next looked at.

    Args:
        start_at: its announced start (epoch seconds), None when unknown.
        checked_at: when it was last looked at (found, or re-checked and
            still upcoming: Video.updated_at). Counting from the last look,
            not from now, keeps the answer fixed between polls, so a video
            with no known start does come due.
    """
    if start_at is None:
        return checked_at + UNKNOWN_START_RECHECK_S
    due = start_at + START_MARGIN_S
    return due if due > checked_at else checked_at + LATE_RECHECK_S


def next_poll_with_upcoming(next_poll_at: float, rechecks: Iterable[float]) -> float:
    """Return the channel's next poll, brought forward to its earliest re-check.

    The re-check is a poll of the channel (one request, plus the metadata of
    the videos that came due), not a request of its own per video.
    """
    return min([next_poll_at, *rechecks])


def due_upcoming(rechecks: Mapping[str, float], now: float) -> list[str]:
    """Return the ids of upcoming videos whose re-check time has come, earliest first."""
    return sorted((v for v, at in rechecks.items() if at <= now), key=lambda v: rechecks[v])


def pushed_out(published_at: float | None, feed_dates: Sequence[float | None]) -> bool:
    """Tell whether an entry may be missing only because newer ones filled the window.

    A full feed (15 entries) whose oldest entry is newer than the video, or
    that is undated, no longer shows it whether it exists or not.
    """
    if len(feed_dates) < WINDOW:
        return False
    dates = [d for d in feed_dates if d is not None]
    return published_at is None or len(dates) < len(feed_dates) or min(dates) > published_at


def premiere_gone(
    start_at: float | None, discovered_at: float, in_feed: bool, pushed: bool, now: float
) -> bool:
    """Tell whether an upcoming video that left the feed is gone for good.

    Args:
        start_at: its announced start, None when never known.
        discovered_at: when the poll first saw it.
        in_feed: whether this poll's feed shows it.
        pushed: whether newer entries pushed it out of the window (`pushed_out`):
            then the feed says nothing of it and yt-dlp's metadata must decide.
        now: the current time.

    A premiere or stream that is cancelled is deleted, and its entry leaves
    the feed. An entry can also leave for an hour when the feed lags, so it is
    gone only when absent and a day has passed since its start (or since it
    was found, when the start was never known).
    """
    if in_feed or pushed:
        return False
    since = start_at if start_at is not None else discovered_at
    return now >= since + GONE_AFTER_S


def listing_new_uploads(
    listing: Sequence[tuple[str, float | None]], known: Iterable[str], since: float
) -> list[str]:
    """Return the ids of a gap listing that are new uploads, not back catalog.

    Args:
        listing: (id, published_at or None) newest first, as yt-dlp lists
            the channel's uploads, minus what the feed itself showed.
        known: ids already cataloged for the channel.
        since: the subscription's creation or the last good poll, whichever
            is later: uploads after it are what the subscriber is owed.

    The listing's order is the platform's own: everything above the first
    known id was uploaded after it, whatever the (approximate) dates say.
    Without a known anchor the dates decide; an undated entry is back
    catalog, since announcing an old video is worse than cataloging a new
    one quietly (it is still referenced and listed).
    """
    known_ids = set(known)
    if any(vid in known_ids for vid, _ in listing):
        head = []
        for vid, _ in listing:
            if vid in known_ids:
                break
            head.append(vid)
        return head
    return [vid for vid, at in listing if at is not None and at > since]


def slid_back(
    published_at: float | None,
    known_in_window: Iterable[float | None],
    last_announced_at: float | None,
) -> bool:
    """Tell whether a feed entry new to us is an old one that slid back in.

    Args:
        published_at: the new entry's date.
        known_in_window: dates of the entries of this same feed already
            cataloged.
        last_announced_at: date of the channel's newest announced upload.

    A real new upload is newer than everything the feed showed before. The
    16th that slides back after a deletion is older than the oldest entry we
    already saw in the window, so it is cataloged but not announced. With no
    known entry left in the window (all 15 are new: a burst), it is compared
    with the last announced upload instead. An undated entry is not held
    back: that is what the feed did before this rule.
    """
    if published_at is None:
        return False
    dates = [d for d in known_in_window if d is not None]
    if dates:
        return published_at < min(dates)
    return last_announced_at is not None and published_at < last_announced_at
