"""The one rule for dates that come from outside: outside a sane range is no date.

A feed or a listing can claim any year. A date before 1970 or from year 9000
on is no upload date anyone means, and a time past year 9999 cannot even be
formatted as ISO 8601, which would break every listing that shows it.
"""

from __future__ import annotations

import calendar
import math
from typing import Any

EARLIEST = 0.0  # 1970-01-01T00:00:00Z
LATEST = float(calendar.timegm((9000, 1, 1, 0, 0, 0)))  # 9000-01-01T00:00:00Z, excluded


def sane_epoch(value: Any) -> float | None:
    """Return ``value`` as epoch seconds when it is a sane upload time, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        return None
    if math.isnan(seconds) or not EARLIEST <= seconds < LATEST:
        return None
    return seconds


def struct_epoch(value: Any) -> float | None:
    """Return a UTC ``time.struct_time`` (feedparser's dates) as a sane epoch, or None."""
    if not value:
        return None
    try:
        return sane_epoch(calendar.timegm(value))
    except (ValueError, OverflowError, TypeError):  # year 10000 after a zone shift
        return None
