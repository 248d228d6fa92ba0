"""How often a host's budget lets each of its channels be polled (pure).

A host takes `rate` requests per second (TUBEPOLLER_HOST_RATE). Routine polls
spend at most ROUTINE_SHARE of it; the rest is left for manual polls, pushes,
catalog listings, downloads and retries. That share is split between the
host's polled channels in proportion to each one's weight, so with N channels
each is polled about once per N / (rate × share) seconds on average, more
often when its history says an upload is due, less when it does not.

A channel's weight is the square root of the chance that it uploads within
that fair interval, read from its upload history: an upload found a poll
interval late waits half an interval on average, and for Poisson uploads
the total wait is least when the poll rate goes as the square root of the
upload rate (Cho and Garcia-Molina, "Synchronizing a database to improve
freshness", 2000). The chance also rises as the silence nears the gaps the
channel usually leaves, which is what "an upload is due" means here.

The tick keeps each host's channel count and weight sum (`host_store.refresh_shares`,
one statement a tick), and a poll reads them with its channel, so no poll
counts anything. Nothing here reads the clock or the database.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .schedule import Bounds

ROUTINE_SHARE = 0.5  # of a host's budget, spent on routine polls at most
WEIGHT_FLOOR = 0.01  # the least weight: a quiet channel keeps a slow poll
NO_HISTORY_GAP = 7 * 86400.0  # the gap assumed of a channel with no known upload
ONE_UPLOAD_GAP = 86400.0  # … and the least gap assumed of one with a single upload


@dataclass(frozen=True)
class HostShare:
    """What a poll knows of its host's routine budget (kept by the tick).

    Attributes:
        channels: the host's polled channels.
        weight_sum: the sum of their weights.
        rate: the host's requests per second.
    """

    channels: int
    weight_sum: float
    rate: float


@dataclass(frozen=True)
class Cadence:
    """A channel's next interval and the weight it is stored with."""

    interval_s: float
    weight: float


def fair_interval(channels: int, rate: float, share: float = ROUTINE_SHARE) -> float:
    """Return the mean seconds between two polls of each of `channels` within the share."""
    return max(channels, 1) / (rate * share)


def upload_chance(upload_times: Sequence[float], now: float, horizon: float) -> float:
    """Return the chance of an upload in the next `horizon` seconds, from the history.

    Half of it is Poisson at the median gap (or the silence, when longer: a
    channel that went quiet); half is the share of the channel's own gaps
    longer than the silence so far that ended within `horizon` more (none
    longer: the Poisson half alone). A channel with no gaps known is Poisson
    at NO_HISTORY_GAP, or at its silence, at least ONE_UPLOAD_GAP.
    """
    times = sorted(t for t in upload_times if t <= now)
    if not times:
        return _poisson(horizon, NO_HISTORY_GAP)
    silence = now - times[-1]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    if not gaps:
        return _poisson(horizon, max(silence, ONE_UPLOAD_GAP))
    poisson = _poisson(horizon, max(statistics.median(gaps), silence))
    longer = [g for g in gaps if g > silence]
    if not longer:
        return poisson
    due = sum(1 for g in longer if g <= silence + horizon) / len(longer)
    return (poisson + due) / 2


def weight(upload_times: Sequence[float], now: float, horizon: float) -> float:
    """Return a channel's share of its host's budget, relative to the others'."""
    return max(WEIGHT_FLOOR, math.sqrt(upload_chance(upload_times, now, horizon)))


def budget_interval(
    upload_times: Sequence[float], now: float, host: HostShare, bounds: Bounds
) -> Cadence:
    """Return the interval the host's budget gives this channel after a success.

    Its poll rate is its weight's part of the routine share (rate × share ×
    weight / weight sum), between the bounds. Before the tick has counted the
    host (no sum yet), every channel is taken to weigh as much as this one.
    """
    fair = fair_interval(host.channels, host.rate)
    mine = weight(upload_times, now, fair)
    total = host.weight_sum if host.weight_sum > 0 else mine * max(host.channels, 1)
    total = max(total, mine)  # the sum includes this channel, whatever was counted
    return Cadence(bounds.clamp(total / (host.rate * ROUTINE_SHARE * mine)), mine)


def _poisson(horizon: float, mean_gap: float) -> float:
    return 1.0 - math.exp(-horizon / max(mean_gap, 1.0))
