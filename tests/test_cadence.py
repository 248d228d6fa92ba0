"""The budget cadence is a pure function of history, the host's share and a fake clock."""

from __future__ import annotations

import pytest

from poller.cadence import (
    ROUTINE_SHARE,
    WEIGHT_FLOOR,
    HostShare,
    budget_interval,
    fair_interval,
    upload_chance,
    weight,
)
from poller.schedule import Bounds

HOUR = 3600.0
DAY = 86400.0
NOW = 1_800_000_000.0
BOUNDS = Bounds(300, DAY)


def uploads_every(gap: float, count: int = 10, last: float = NOW) -> list[float]:
    return [last - gap * i for i in reversed(range(count))]


@pytest.mark.parametrize(
    ("channels", "rate", "expected"),
    [
        (1000, 2.0, 1000.0),  # 1,000 YouTube channels: each polled every ~17 min on average
        (100, 2.0, 100.0),
        (50, 10.0, 10.0),
        (0, 2.0, 1.0),  # no channel counted yet: as if one
    ],
)
def test_the_fair_interval_spends_half_of_the_host_s_rate(
    channels: int, rate: float, expected: float
) -> None:
    assert ROUTINE_SHARE == 0.5
    assert fair_interval(channels, rate) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("history", "now", "horizon", "low", "high"),
    [
        ([], NOW, 1000, 0.001, 0.002),  # nothing known: a weekly channel's chance
        ([NOW - HOUR], NOW, 1000, 0.01, 0.012),  # one upload: at least a day's gap
        (uploads_every(HOUR), NOW + 60, 1000, 0.1, 0.15),  # hourly, just uploaded
        (uploads_every(HOUR), NOW + 3000, 1000, 0.55, 1.0),  # hourly, upload due
        (uploads_every(7 * DAY), NOW + DAY, 1000, 0.0, 0.001),  # weekly, mid-week
        (uploads_every(HOUR), NOW + 30 * DAY, 1000, 0.0, 0.001),  # hourly gone quiet
        (uploads_every(HOUR), NOW - 1, 1000, 0.0, 1.0),  # an upload after now is ignored
    ],
)
def test_the_chance_of_an_upload_reads_the_history(
    history: list[float], now: float, horizon: float, low: float, high: float
) -> None:
    assert low <= upload_chance(history, now, horizon) <= high


def test_the_chance_rises_as_the_usual_gap_runs_out() -> None:
    history = uploads_every(HOUR)
    chances = [upload_chance(history, NOW + s, 600) for s in (60, 1800, 3300)]
    assert chances == sorted(chances)
    assert chances[-1] > 3 * chances[0]


def test_a_weight_never_falls_below_the_floor() -> None:
    assert weight(uploads_every(365 * DAY), NOW + 300 * DAY, 1000) == WEIGHT_FLOOR


@pytest.mark.parametrize(
    ("gap", "now", "low", "high"),
    [
        (HOUR, NOW + 60, 300, 300),  # hourly: as often as the bounds let it
        (DAY, NOW + 60, 600, 1200),  # daily: a few times the minimum
        (7 * DAY, NOW + DAY, 1500, 3600),  # weekly: well under an hour
        (30 * DAY, NOW + DAY, 3000, 7200),  # monthly: still within two hours
        (365 * DAY, NOW + 364 * DAY, 5000, 8000),  # yearly: the floor's interval
    ],
)
def test_a_fleet_of_a_thousand_youtube_channels_spends_its_budget_by_weight(
    gap: float, now: float, low: float, high: float
) -> None:
    # The weight sum of the freshness bench's mix at 1,000 channels (about 58).
    host = HostShare(channels=1000, weight_sum=58.0, rate=2.0)
    planned = budget_interval(uploads_every(gap), now, host, BOUNDS)
    assert low <= planned.interval_s <= high


def test_more_channels_on_a_host_mean_longer_intervals_up_to_the_cap() -> None:
    history = uploads_every(7 * DAY)
    intervals = [
        budget_interval(history, NOW + DAY, HostShare(n, 0.0, 2.0), BOUNDS).interval_s
        for n in (10, 1_000, 10_000, 1_000_000)  # every channel like this one
    ]
    assert intervals == sorted(intervals)
    assert intervals[0] == 300  # a small host: the minimum
    assert intervals[-1] == DAY  # a huge one: never past the longest interval


def test_the_routine_polls_of_a_host_spend_at_most_its_share() -> None:
    # Each channel's rate is its weight's part of rate × share; clamping to the
    # minimum only lowers it, so the sum stays within the share.
    histories = [uploads_every(g) for g in (HOUR,) * 50 + (DAY,) * 200 + (7 * DAY,) * 750]
    now = NOW + 600
    fair = fair_interval(len(histories), 2.0)
    total = sum(weight(h, now, fair) for h in histories)
    host = HostShare(len(histories), total, 2.0)
    spend = sum(1 / budget_interval(h, now, host, BOUNDS).interval_s for h in histories)
    assert 0.8 < spend <= 2.0 * ROUTINE_SHARE  # of 1 request/s: most of it, never more


def test_before_the_tick_counted_the_host_every_channel_weighs_as_this_one() -> None:
    planned = budget_interval(uploads_every(7 * DAY), NOW + DAY, HostShare(2000, 0.0, 2.0), BOUNDS)
    assert planned.interval_s == pytest.approx(2000 / (2.0 * ROUTINE_SHARE))
