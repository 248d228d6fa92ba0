"""The cadence is a pure function of upload history, failures and a fake clock."""

from __future__ import annotations

import pytest

from poller.schedule import (
    Bounds,
    delay_after_failure,
    interval_after_success,
    merge_history,
    next_poll_at,
)

HOUR = 3600.0
DAY = 86400.0
NOW = 1_800_000_000.0
BOUNDS = Bounds(300, DAY)


def uploads_every(gap: float, count: int = 10, last: float = NOW) -> list[float]:
    return [last - gap * i for i in reversed(range(count))]


def test_a_channel_that_uploads_often_is_polled_often() -> None:
    busy = interval_after_success(uploads_every(2 * HOUR), NOW, BOUNDS)
    quiet = interval_after_success(uploads_every(7 * DAY), NOW, BOUNDS)
    assert busy < quiet
    assert busy == pytest.approx(2 * HOUR / 24)


def test_the_interval_stays_between_the_bounds() -> None:
    assert interval_after_success(uploads_every(60), NOW, BOUNDS) == 300
    assert interval_after_success(uploads_every(365 * DAY), NOW, BOUNDS) == DAY


def test_a_channel_that_went_quiet_is_polled_less_as_the_silence_grows() -> None:
    history = uploads_every(HOUR, last=NOW)
    just_after = interval_after_success(history, NOW + 60, BOUNDS)
    days_later = interval_after_success(history, NOW + 3 * DAY, BOUNDS)
    assert days_later > just_after
    assert days_later == pytest.approx(3 * DAY / 24, rel=0.01)


def test_a_channel_with_no_known_upload_is_polled_at_a_quarter_of_the_cap() -> None:
    assert interval_after_success([], NOW, BOUNDS) == DAY / 4


def test_failures_back_off_exponentially_to_the_cap() -> None:
    delays = [delay_after_failure(n, BOUNDS, jitter=0.5) for n in range(1, 12)]
    assert delays[0] == 300
    assert delays[1] == 600
    assert delays == sorted(delays)
    assert delays[-1] == DAY


def test_failure_jitter_stays_within_twenty_percent_and_the_bounds() -> None:
    assert delay_after_failure(3, BOUNDS, jitter=0.0) == pytest.approx(1200 * 0.8)
    assert delay_after_failure(3, BOUNDS, jitter=0.999) == pytest.approx(1200 * 1.2, rel=0.01)
    assert delay_after_failure(40, BOUNDS, jitter=0.999) == DAY


def test_server_hints_are_lower_bounds_capped_at_the_longest_interval() -> None:
    assert next_poll_at(NOW, 300, None, BOUNDS) == NOW + 300
    assert next_poll_at(NOW, 300, 1800, BOUNDS) == NOW + 1800
    assert next_poll_at(NOW, 3600, 60, BOUNDS) == NOW + 3600
    assert next_poll_at(NOW, 300, 10 * 365 * DAY, BOUNDS) == NOW + DAY


def test_history_keeps_the_latest_ten_distinct_times() -> None:
    merged = merge_history(range(20), [19, 25])
    assert merged == [11, 12, 13, 14, 15, 16, 17, 18, 19, 25]
