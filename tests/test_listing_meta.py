"""Kinds, live states and dates from yt-dlp listing entries.

The samples have the shape of yt-dlp's youtube tab extractor
(``_tab.py``: ``_extract_video`` and the lockup view model) for a flat
listing, and of a full ``-j`` extraction; ids and values are made up.
"""

from __future__ import annotations

import json

import pytest

from poller import listing_meta
from poller.listing_meta import EntryMeta

FLAT_VIDEO = {
    "_type": "url",
    "ie_key": "Youtube",
    "id": "dQw4w9WgXcQ",
    "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "title": "A video",
    "description": None,
    "duration": 212,
    "channel_id": "UCuAXFkgsw1L7xaCfnd5JJOw",
    "channel": "Some channel",
    "thumbnails": [],
    "timestamp": 1764460800,  # with youtubetab:approximate_date, "2 days ago"
    "release_timestamp": None,
    "availability": None,
    "view_count": 1200,
    "live_status": None,
    "channel_is_verified": None,
}
FLAT_SHORT = {
    **FLAT_VIDEO,
    "id": "shortABCDEF",
    "url": "https://www.youtube.com/shorts/shortABCDEF",
    "duration": None,
    "timestamp": None,
}
FLAT_UPCOMING = {
    **FLAT_VIDEO,
    "id": "premiere123",
    "url": "https://www.youtube.com/watch?v=premiere123",
    "timestamp": None,
    "release_timestamp": 1764720000,
    "live_status": "is_upcoming",
    "concurrent_view_count": 0,
}
FLAT_PAST_LIVE = {**FLAT_VIDEO, "id": "streamed123", "live_status": "was_live"}
FLAT_MEMBERS = {**FLAT_VIDEO, "id": "members1234", "availability": "subscriber_only"}
FULL_VIDEO = {
    "id": "dQw4w9WgXcQ",
    "title": "A video",
    "webpage_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "timestamp": 1764462345,
    "upload_date": "20251130",
    "release_timestamp": None,
    "live_status": "not_live",
    "was_live": False,
    "media_type": "video",
    "availability": "public",
}
FULL_SHORT = {**FULL_VIDEO, "media_type": "short"}
FULL_LIVE_NOW = {**FULL_VIDEO, "live_status": "is_live", "media_type": "livestream"}
FULL_POST_LIVE = {**FULL_VIDEO, "live_status": "post_live", "media_type": "livestream"}
FULL_DATE_ONLY = {**FULL_VIDEO, "timestamp": None}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (FLAT_VIDEO, EntryMeta("video", None, None, 1764460800.0, True)),
        (FLAT_SHORT, EntryMeta("short", None, None, None, False)),
        (FLAT_UPCOMING, EntryMeta("upcoming", "is_upcoming", 1764720000.0, None, False)),
        (FLAT_PAST_LIVE, EntryMeta("live", "was_live", None, 1764460800.0, True)),
        (FLAT_MEMBERS, EntryMeta("members_only", None, None, 1764460800.0, True)),
        (FULL_VIDEO, EntryMeta("video", "not_live", None, 1764462345.0, False)),
        (FULL_SHORT, EntryMeta("short", "not_live", None, 1764462345.0, False)),
        (FULL_LIVE_NOW, EntryMeta("upcoming", "is_live", None, 1764462345.0, False)),
        (FULL_POST_LIVE, EntryMeta("upcoming", "post_live", None, 1764462345.0, False)),
        (FULL_DATE_ONLY, EntryMeta("video", "not_live", None, 1764460800.0, False)),
        (
            {"id": "x", "live_status": "bogus", "timestamp": "soon"},
            EntryMeta("video", None, None, None, False),
        ),
    ],
)
def test_an_entry_gives_its_kind_live_state_and_dates(entry: dict, expected: EntryMeta) -> None:
    assert listing_meta.entry_meta(entry) == expected


def test_a_whole_flat_listing_reads_entry_by_entry() -> None:
    listing = json.loads(
        json.dumps(
            {
                "_type": "playlist",
                "id": "UCuAXFkgsw1L7xaCfnd5JJOw",
                "title": "Some channel - Videos",
                "entries": [FLAT_UPCOMING, FLAT_VIDEO, FLAT_SHORT, FLAT_PAST_LIVE],
            }
        )
    )
    kinds = [listing_meta.entry_meta(e).media_type for e in listing["entries"]]
    assert kinds == ["upcoming", "video", "short", "live"]


def test_newest_first_puts_undated_videos_last() -> None:
    dates = [None, 10.0, 30.0, None, 20.0]
    assert sorted(dates, key=listing_meta.newest_first_key) == [30.0, 20.0, 10.0, None, None]


def test_listings_ask_yt_dlp_for_approximate_dates() -> None:
    assert listing_meta.APPROXIMATE_DATE_ARGS == (
        "--extractor-args",
        "youtubetab:approximate_date",
    )
