"""When to poll a channel next: pure functions of its history and the clock.

Nothing here reads the clock or the database; callers pass `now` in seconds
and get seconds back, so the cadence is unit-tested with a fake clock.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HISTORY_SIZE = 10  # upload times kept per channel
POLLS_PER_GAP = 24  # poll ~24 times in a typical gap between two uploads
JITTER = 0.2  # ±20 % spreads a fleet of failing channels over time


@dataclass(frozen=True)
class Bounds:
    """The shortest and longest interval between two polls, in seconds."""

    min_s: float
    max_s: float

    def clamp(self, seconds: float) -> float:
        return max(self.min_s, min(self.max_s, seconds))


def interval_after_success(upload_times: Sequence[float], now: float, bounds: Bounds) -> float:
    """Return the seconds to wait after a successful poll.

    The typical gap between uploads is the median of the recent gaps, or the
    current silence when that is longer (a channel that went quiet is polled
    less). A channel with no known upload is polled at a quarter of the cap.
    """
    times = sorted(t for t in upload_times if t <= now)
    if not times:
        return bounds.clamp(bounds.max_s / 4)
    silence = now - times[-1]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    typical = max(statistics.median(gaps), silence) if gaps else silence
    return bounds.clamp(typical / POLLS_PER_GAP)


def delay_after_failure(failures: int, bounds: Bounds, jitter: float) -> float:
    """Return the seconds to wait after the `failures`-th failure in a row.

    Doubles from the lower bound up to the cap; `jitter` in [0, 1) comes from
    the caller's random source so that tests can pin it.
    """
    exponent = min(max(failures - 1, 0), 30)
    base = bounds.clamp(bounds.min_s * 2**exponent)
    return bounds.clamp(base * (1 + JITTER * (2 * jitter - 1)))


def next_poll_at(now: float, interval: float, server_hint_s: float | None, bounds: Bounds) -> float:
    """Return the next poll time: `interval` from now, never before the server's hint.

    Retry-After and Cache-Control max-age are lower bounds, themselves capped
    at the longest interval so a hostile server cannot park a channel forever.
    """
    wait = interval if server_hint_s is None else max(interval, min(server_hint_s, bounds.max_s))
    return now + wait


def merge_history(history: Iterable[float], new_times: Iterable[float]) -> list[float]:
    """Return the most recent HISTORY_SIZE distinct upload times, oldest first."""
    return sorted(set(history) | set(new_times))[-HISTORY_SIZE:]
