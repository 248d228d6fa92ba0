"""Hosts as first-class: the pure rules of a host's budget, pause and probe.

Every request to a host (a feed poll, a catalog listing, a download) spends
from one budget per host, shared by every worker through the host's row
(`poller.host_store`). A bot check, a 429 or a burst of 403s (told apart by
`poller.host_signals`) pauses the whole host; one probe ends the pause. The
functions here take `now` and plain values and touch nothing, so the rules are
table-tested without a database; `host_store` mirrors them in SQL.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from .host_signals import BOT_CHECK
from .kinds import MEMBERS_ONLY

YOUTUBE_RATE = 2.0  # requests/s to the YouTube host when TUBEPOLLER_HOST_RATE is unset
OTHER_RATE = 10.0  # requests/s to any other host
PAUSE_CAP = 6 * 3600.0  # the longest pause, however often it doubles
PROBE_LEASE = 120.0  # how long one probe may take before another caller may probe


def host_key(url: str) -> str:
    """Return the host a URL's requests spend from: lower-case host[:port].

    The port is kept unless it is the scheme's default, so a feed server on
    127.0.0.1:8001 and one on :8002 are two hosts, and https://Example.com and
    https://example.com:443 are one.
    """
    parts = urllib.parse.urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{host}:{port}" if port is not None and port != default else host


def default_rate(host: str, youtube_url: str, configured: float | None) -> float:
    """Return the requests per second allowed to `host`.

    Args:
        host: a `host_key`.
        youtube_url: TUBEPOLLER_YOUTUBE_URL; its host is the YouTube host.
        configured: TUBEPOLLER_HOST_RATE, or None when unset.
    """
    if configured is not None:
        return configured
    return YOUTUBE_RATE if host == host_key(youtube_url) else OTHER_RATE


def reserve_slots(
    next_slot_at: float, now: float, n: int, rate: float
) -> tuple[list[float], float]:
    """Return the times of `n` requests and the host's new next free slot.

    GCRA with no burst allowance: the host's state is the time its next
    request may go (its "theoretical arrival time"); slots are 1/rate apart,
    starting now or at that time, whichever is later. `host_store.reserve`
    does the same in one UPDATE; this is the rule it follows.
    """
    interval = 1.0 / rate
    start = max(next_slot_at, now)
    return [start + i * interval for i in range(n)], start + n * interval


TICK_HORIZON = 60.0  # a tick grants a host's slots this far ahead (its period)


def slots_within(next_slot_at: float, now: float, rate: float, horizon: float) -> int:
    """Return how many requests fit in the host's budget before `now + horizon`.

    The tick claims no more of a host's channels than this (the rest stay due
    for the next tick), so a poll message never waits more than a tick.
    """
    start = max(next_slot_at, now)
    room = now + horizon - start
    return max(0, int(room * rate + 1e-9))


def tick_allowance(
    next_slot_at: float,
    paused_until: float | None,
    probe_until: float | None,
    now: float,
    rate: float,
    horizon: float = TICK_HORIZON,
) -> int:
    """Return how many of a host's due channels a tick may claim.

    An open host: what its budget allows within `horizon` (one tick); a host
    whose pause ended and that nobody probes: one, the probe; a paused or
    probing host: none (its channels stay due, nothing is charged).
    """
    state = probe_state(paused_until, probe_until, now)
    if state == "open":
        return slots_within(next_slot_at, now, rate, horizon)
    return 1 if state == "probe_free" else 0


# Channels deferred by a pause come back spread over this long after it ends,
# so they are not all due in the same tick (the budget would spread them
# anyway; this keeps the due-list short).
DEFER_SPREAD = 60.0


def defer_until(blocked_until: float, rand: float) -> float:
    """Return a deferred channel's next poll: after the pause, jittered.

    Args:
        blocked_until: `Reservation.blocked_until` or the host's `paused_until`.
        rand: a uniform number in [0, 1) (the caller's `random.random()`).
    """
    return blocked_until + DEFER_SPREAD * rand


def delay_ms(slot: float, now: float) -> int:
    """Return the Dramatiq delay that sends a message at its slot."""
    return max(0, round((slot - now) * 1000))


@dataclass(frozen=True)
class Reservation:
    """What a host granted a caller: slots, the probe, or a wait.

    Attributes:
        slots: the times the caller's requests may go, oldest first; empty
            when the host is paused.
        probe: the one slot is the probe at the end of a pause; its outcome
            must be reported (`host_store.clear_pause` or `pause`).
        blocked_until: when nothing was granted, when to ask again.
        token: the caller's token (it names the probe's owner).
    """

    slots: tuple[float, ...]
    probe: bool = False
    blocked_until: float | None = None
    token: str = ""


def read_reservation(
    row: tuple[float, float | None, float | None, str | None], n: int, rate: float, token: str
) -> Reservation:
    """Turn the row `host_store.reserve` returned into what was granted.

    The UPDATE changes `next_slot_at` only when it grants slots, and
    `probe_token` only when it grants the probe, so the row after it says
    which of the three happened: no pause → `n` slots; our token → the probe's
    one slot; otherwise a wait until the pause ends or the probe's lease does.
    """
    next_slot_at, paused_until, probe_until, probe_token = row
    interval = 1.0 / rate
    if paused_until is None:
        return Reservation(tuple(next_slot_at - (n - i) * interval for i in range(n)), token=token)
    if probe_token == token:
        return Reservation((next_slot_at - interval,), probe=True, token=token)
    return Reservation((), blocked_until=max(paused_until, probe_until or 0.0), token=token)


def probe_state(paused_until: float | None, probe_until: float | None, now: float) -> str:
    """Return "open", "paused", "probe_free" (the next caller probes) or "probing"."""
    if paused_until is None:
        return "open"
    if paused_until > now:
        return "paused"
    if probe_until is not None and probe_until >= now:
        return "probing"
    return "probe_free"


def pause_length(level: int, base: float, retry_after: float | None = None) -> float:
    """Return how long pause number `level` (0 = the first) lasts, in seconds.

    It doubles per level, is capped at 6 hours, and is never shorter than the
    host's Retry-After (which may exceed the cap: the host said so).
    """
    length = min(base * 2.0 ** min(level, 32), PAUSE_CAP)
    return max(length, retry_after or 0.0)


def next_pause(
    paused_until: float | None,
    level: int,
    now: float,
    base: float,
    retry_after: float | None = None,
) -> tuple[float, int]:
    """Return (paused_until, level) after a pausing answer at `now`.

    - no pause yet: the first pause, level 0;
    - during a pause: an answer to a request sent before it began; keep the
      level, extend only to a later Retry-After (many workers report the same
      bot check at once, and that must not double the pause many times);
    - after the pause ended (the probe failed): the next level, twice as long.
    """
    if paused_until is None:
        return now + pause_length(0, base, retry_after), 0
    if paused_until > now:
        return max(paused_until, now + (retry_after or 0.0)), level
    return now + pause_length(level + 1, base, retry_after), level + 1


# yt-dlp makes several page/player requests per video: ~1,000 requests for
# ~300 videos an hour per the yt-dlp wiki, so a download spends about this many.
REQUESTS_PER_DOWNLOAD = 4


def ytdlp_sleep_args(rate: float, *, download: bool = False) -> list[str]:
    """Return yt-dlp options that keep its own requests within `rate` per second.

    A listing or download reserves one slot of the host's budget, but yt-dlp
    then makes requests of its own: `--sleep-requests` spaces those, and for a
    download `--sleep-interval`/`--max-sleep-interval` space the videos.
    """
    interval = 1.0 / rate
    args = ["--sleep-requests", _seconds(interval)]
    if download:
        per_video = REQUESTS_PER_DOWNLOAD * interval
        args += ["--sleep-interval", _seconds(per_video)]
        args += ["--max-sleep-interval", _seconds(2 * per_video)]
    return args


def cookies_args(cookies_file: str | None, reasons: Sequence[str]) -> list[str]:
    """Return yt-dlp's `--cookies` only when needed (Pinchflat's `when_needed`).

    Args:
        cookies_file: TUBEPOLLER_COOKIES_FILE, or None.
        reasons: why this request may need an account: BOT_CHECK (the host's
            last pause was a bot check) or "members_only".
    """
    if cookies_file and any(r in (BOT_CHECK, MEMBERS_ONLY) for r in reasons):
        return ["--cookies", cookies_file]
    return []


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
