"""The 15-entry window and upcoming videos: pure decisions, by table."""

from __future__ import annotations

import pytest

from poller import window
from poller.window import GONE_AFTER_S, LATE_RECHECK_S, START_MARGIN_S, UNKNOWN_START_RECHECK_S

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("start_at", "expected"),
    [
        (NOW + 3600, NOW + 3600 + START_MARGIN_S),
        (None, NOW + UNKNOWN_START_RECHECK_S),
        (NOW - 10, NOW - 10 + START_MARGIN_S),  # started, margin not over
        (NOW - START_MARGIN_S, NOW + LATE_RECHECK_S),
    ],
)
def test_an_upcoming_video_is_looked_at_after_its_start(
    start_at: float | None, expected: float
) -> None:
    assert window.recheck_at(start_at, NOW) == expected


def test_the_channel_poll_is_brought_forward_to_the_earliest_recheck() -> None:
    assert window.next_poll_with_upcoming(NOW + 300, [NOW + 900, NOW + 60]) == NOW + 60
    assert window.next_poll_with_upcoming(NOW + 300, [NOW + 900]) == NOW + 300
    assert window.next_poll_with_upcoming(NOW + 300, []) == NOW + 300


def test_due_upcoming_videos_come_earliest_first() -> None:
    rechecks = {"late": NOW - 1, "early": NOW - 100, "future": NOW + 1}
    assert window.due_upcoming(rechecks, NOW) == ["early", "late"]


@pytest.mark.parametrize(
    ("start_at", "in_feed", "now", "gone"),
    [
        (NOW, True, NOW + 10 * GONE_AFTER_S, False),
        (NOW, False, NOW + 60, False),
        (NOW, False, NOW + GONE_AFTER_S, True),
        (None, False, NOW - 1000 + GONE_AFTER_S, True),  # discovered at NOW - 1000
        (None, False, NOW, False),
        (NOW + 7 * 86400, False, NOW + GONE_AFTER_S, False),  # rescheduled far ahead
    ],
)
def test_a_premiere_is_gone_a_day_after_it_left_the_feed(
    start_at: float | None, in_feed: bool, now: float, gone: bool
) -> None:
    assert window.premiere_gone(start_at, NOW - 1000, in_feed, False, now) is gone


def test_a_premiere_pushed_out_of_a_full_window_is_not_called_gone() -> None:
    full = [NOW - 60 * i for i in range(15)]
    assert window.pushed_out(NOW - 3600, full)
    assert not window.pushed_out(NOW - 60, full[:14])  # room left: it would show
    assert not window.pushed_out(NOW - 3600 * 24, [NOW - 3600 * 48, *full[1:]])
    assert window.pushed_out(None, full)
    assert window.pushed_out(NOW - 3600, [None, *full[1:]])
    assert not window.premiere_gone(NOW, NOW, False, True, NOW + 10 * GONE_AFTER_S)


def test_a_gap_listing_above_the_first_known_id_is_new_whatever_its_dates() -> None:
    # A burst of 16: the feed showed 15 of them, the listing has the 16th above
    # the newest video we knew, with an approximate date rounded to the day.
    listing = [("b16", NOW - 86400), ("k1", NOW - 2 * 86400), ("k0", None)]
    assert window.listing_new_uploads(listing, {"k1", "k0"}, since=NOW - 600) == ["b16"]


def test_a_gap_listing_without_a_known_anchor_goes_by_date() -> None:
    listing = [("n1", NOW - 60), ("undated", None), ("old", NOW - 86400)]
    assert window.listing_new_uploads(listing, set(), since=NOW - 600) == ["n1"]


def test_a_gap_listing_that_starts_with_a_known_id_holds_nothing_new() -> None:
    assert window.listing_new_uploads([("k", NOW), ("x", NOW)], {"k"}, since=0) == []


@pytest.mark.parametrize(
    ("published_at", "known_in_window", "last_announced_at", "slid"),
    [
        # The 16th slides back after a deletion: older than all we saw.
        (NOW - 16 * 3600, [NOW - 3600 * h for h in range(1, 15)], NOW - 3600, True),
        # A real new upload is newer than everything.
        (NOW, [NOW - 3600 * h for h in range(1, 15)], NOW - 3600, False),
        # Undated entries are not held back.
        (None, [NOW - 3600], NOW - 3600, False),
        # Nothing known in the window (a burst): compare with the last announcement.
        (NOW - 7200, [], NOW - 3600, True),
        (NOW, [], NOW - 3600, False),
        (NOW - 7200, [None], None, False),
        (NOW - 7200, [], None, False),
    ],
)
def test_an_entry_older_than_the_window_is_a_slide_back(
    published_at: float | None,
    known_in_window: list[float | None],
    last_announced_at: float | None,
    slid: bool,
) -> None:
    assert window.slid_back(published_at, known_in_window, last_announced_at) is slid


def test_a_recheck_time_counts_from_the_last_look_so_it_comes_due() -> None:
    found = NOW - UNKNOWN_START_RECHECK_S - 1
    due = window.recheck_at(None, found)
    assert window.due_upcoming({"p": due}, NOW) == ["p"]
