"""Read a kind, a live state and dates from one entry of a yt-dlp listing.

A flat channel listing (``--flat-playlist -J``) gives one small dict per
video, built in yt-dlp's youtube ``_tab.py`` (``_extract_video`` and the
lockup view model): ``live_status`` (is_upcoming / is_live / was_live or
None), ``release_timestamp`` (an upcoming one's start), ``availability``
(subscriber_only for members), a ``/shorts/`` URL for a short, and a
``timestamp`` only with ``--extractor-args youtubetab:approximate_date``,
parsed from "3 days ago" (so days-precise at best). A full extraction
(``-j``) adds ``media_type``, ``upload_date`` and an exact ``timestamp``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import kinds

# Passed to every catalog listing so its entries carry dates: without it a
# flat listing has none and "newest first" is only the listing's order.
APPROXIMATE_DATE_ARGS = ("--extractor-args", "youtubetab:approximate_date")


@dataclass(frozen=True)
class EntryMeta:
    """What one listing entry says beside its id, title and URL.

    Attributes:
        media_type: one of kinds.MEDIA_TYPES.
        live_status: yt-dlp's value, None when the listing did not say.
        start_at: an upcoming video's start, epoch seconds.
        published_at: its upload time, epoch seconds, None when undated.
        approximate: True when published_at came from "N days ago".
    """

    media_type: str
    live_status: str | None
    start_at: float | None
    published_at: float | None
    approximate: bool


_LIVE_STATUSES = {"not_live", "is_live", "is_upcoming", "was_live", "post_live"}


def entry_meta(entry: Mapping[str, Any]) -> EntryMeta:
    """Return the media type, live state and dates of a yt-dlp entry."""
    status = entry.get("live_status")
    stamp = _epoch(entry.get("timestamp"))
    published = stamp if stamp is not None else _day(entry.get("upload_date"))
    return EntryMeta(
        media_type=kinds.from_metadata(entry),
        live_status=status if status in _LIVE_STATUSES else None,
        start_at=kinds.start_time(entry),
        published_at=published,
        # A flat entry never has upload_date: its timestamp is the estimate.
        approximate=stamp is not None and not entry.get("upload_date"),
    )


def newest_first_key(published_at: float | None) -> tuple[int, float]:
    """Return a sort key that puts the newest first and undated videos last."""
    return (1, 0.0) if published_at is None else (0, -published_at)


def _epoch(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _day(value: object) -> float | None:
    if isinstance(value, str) and re.fullmatch(r"\d{8}", value):
        try:
            return datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return None
    return None
