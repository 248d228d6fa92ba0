"""Hosts as first-class: the pure decisions about a host's budget, pause and health.

Every request to a host (a feed poll, a catalog listing, a download) spends
from one budget per host, shared by every worker through the host's row
(`poller.host_store`). A bot check, a 429 or a burst of 403s pauses the whole
host; an outage that fails most of its feeds at once marks it degraded. The
functions here take `now` and plain values and touch nothing, so the rules are
table-tested without a database; `host_store` mirrors them in SQL.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

YOUTUBE_RATE = 2.0  # requests/s to the YouTube host when TUBEPOLLER_HOST_RATE is unset
OTHER_RATE = 10.0  # requests/s to any other host
PAUSE_CAP = 6 * 3600.0  # the longest pause, however often it doubles
PROBE_LEASE = 120.0  # how long one probe may take before another caller may probe

# A burst of 403s: one 403 is a private or members-only item; this many from
# one host within the window, across channels, is the site refusing us.
FORBIDDEN_BURST = 5
FORBIDDEN_WINDOW = 120.0

# Degraded: at least DEGRADED_SHARE of the host's channels polled within
# DEGRADED_WINDOW failed with an outage-type error, out of at least
# DEGRADED_MIN_POLLED. The window is one default poll interval (300 s) three
# times over, so every active channel has had a chance to fail; the minimum
# keeps a host with two feeds, one broken, from calling itself an outage; half
# is far above the share of YouTube channels that 404 on a normal day (deleted
# or renamed channels, well under 1 %), and below what the recorded outages
# showed (every feed at once: iv-org/invidious#4411, ocaml/ocaml.org#3512).
DEGRADED_WINDOW = 900.0
DEGRADED_MIN_POLLED = 5
DEGRADED_SHARE = 0.5

# A 404 on a channel that polled fine is the platform for days (the Feb 2026
# outage lasted five) before it is the channel: gone only this long after its
# last good poll, and never while its host is degraded.
GONE_AFTER = 3 * 86400.0

# What yt-dlp's YouTube extractor and YouTube's own page say; both apostrophes occur.
_BOT_CHECK = re.compile(r"sign in to confirm you[’']re not a bot", re.IGNORECASE)
_HTTP_STATUS = re.compile(r"\bHTTP(?: Error)? (\d{3})\b")

# How a request's answer counts for its host.
BOT_CHECK = "bot_check"
RATE_LIMITED = "rate_limited"
FORBIDDEN = "forbidden"
OUTAGE = "outage"
ORDINARY = "ordinary"
PAUSING = (BOT_CHECK, RATE_LIMITED)  # pause at once; FORBIDDEN pauses only in a burst


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


def slots_within(next_slot_at: float, now: float, rate: float, horizon: float) -> int:
    """Return how many requests fit in the host's budget before `now + horizon`.

    The tick claims no more of a host's channels than this (the rest stay due
    for the next tick), so a poll message never waits more than a tick.
    """
    start = max(next_slot_at, now)
    room = now + horizon - start
    return max(0, int(room * rate + 1e-9))


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


def classify(
    status: int | None = None,
    body: bytes | str = b"",
    error: str = "",
    *,
    invalid_xml: bool = False,
) -> str:
    """Return how one answer counts for its host.

    Args:
        status: the HTTP status, when there was an answer.
        body: the answer's body or its first few kilobytes (YouTube serves
            its bot check as an HTML page with status 200).
        error: an error's text (yt-dlp's, or a fetch error like "HTTP 404 from …").
        invalid_xml: the feed's body could not be read as XML.

    Returns:
        BOT_CHECK, RATE_LIMITED (429), FORBIDDEN (403), OUTAGE (404, 5xx or
        invalid XML: what a platform outage looks like), or ORDINARY.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if _BOT_CHECK.search(text) or _BOT_CHECK.search(error):
        return BOT_CHECK
    if status is None and error:
        found = _HTTP_STATUS.search(error)
        status = int(found.group(1)) if found else None
    if status == 429:
        return RATE_LIMITED
    if status == 403:
        return FORBIDDEN
    if invalid_xml or status == 404 or (status is not None and 500 <= status < 600):
        return OUTAGE
    return ORDINARY


def forbidden_window(
    count: int, since: float | None, now: float, window: float = FORBIDDEN_WINDOW
) -> tuple[int, float]:
    """Count one more 403: return the count and start of the current window.

    A window opens at the first 403 and lasts `window` seconds; a 403 after it
    opens a new one. `host_store.record_forbidden` does the same in SQL.
    """
    if since is not None and since >= now - window:
        return count + 1, since
    return 1, now


def is_forbidden_burst(count: int) -> bool:
    """Return True when the 403s in one window are a burst that pauses the host."""
    return count >= FORBIDDEN_BURST


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


def is_degraded(polled: int, failing: int) -> bool:
    """Return True when a host's recent failures look like a platform outage.

    Args:
        polled: the host's channels polled within DEGRADED_WINDOW.
        failing: how many of them failed their last poll with an OUTAGE error.
    """
    return polled >= DEGRADED_MIN_POLLED and failing >= DEGRADED_SHARE * polled


def is_gone(last_ok_at: float | None, now: float, *, degraded: bool) -> bool:
    """Return True when a channel answering 404 is gone rather than unreachable.

    Args:
        last_ok_at: the channel's last successful poll; None if it never had one.
        now: the current time.
        degraded: its host is degraded (a 404 is then the platform's).
    """
    if degraded:
        return False
    if last_ok_at is None:
        return True  # never fine: a wrong id, say so now
    return now - last_ok_at >= GONE_AFTER


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
    if cookies_file and any(r in (BOT_CHECK, "members_only") for r in reasons):
        return ["--cookies", cookies_file]
    return []


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
