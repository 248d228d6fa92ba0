"""What answers say about their host: bot checks, rate limits, 403 bursts, outages.

`classify` sorts one answer (an HTTP status, a body, an error's text) into
what it means for the host; the rest decide when those add up: a burst of
403s pauses the host, outage-type failures across most of its feeds mark it
degraded, and a 404 on a channel that was fine is gone only after days.
Pure functions of plain values and `now`; `poller.hosts` holds the budget and
pause rules, `poller.host_store` the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        status = error_status(error)
    if status == 429:
        return RATE_LIMITED
    if status == 403:
        return FORBIDDEN
    if invalid_xml or status == 404 or (status is not None and 500 <= status < 600):
        return OUTAGE
    return ORDINARY


def error_status(error: str) -> int | None:
    """Return the HTTP status an error's text names ("HTTP 404 from …"), if any."""
    found = _HTTP_STATUS.search(error)
    return int(found.group(1)) if found else None


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


@dataclass(frozen=True)
class FailureEffect:
    """What one failed request means for its host and its channel.

    Attributes:
        pause_host: pause the host (`host_store.pause`); the channel is deferred
            to the pause's end.
        charge_channel: count the failure against the channel (its backoff,
            `consecutive_failures`, "failing" in the lists).
        gone: the channel no longer exists; stop polling it.
    """

    pause_host: bool
    charge_channel: bool
    gone: bool = False


def failure_effect(
    kind: str,
    *,
    status: int | None,
    degraded: bool,
    last_ok_at: float | None,
    now: float,
    forbidden_burst: bool = False,
) -> FailureEffect:
    """Decide what a failed poll of a channel does to its host and to itself.

    Args:
        kind: `classify`'s answer.
        status: the HTTP status, when there was one (a 404 may mean gone).
        degraded: the host is degraded (most of its feeds fail at once).
        last_ok_at: the channel's last successful poll, or None.
        now: the current time.
        forbidden_burst: this 403 completed a burst (`is_forbidden_burst`).
    """
    if kind in PAUSING or (kind == FORBIDDEN and forbidden_burst):
        return FailureEffect(pause_host=True, charge_channel=False)
    if kind == OUTAGE and degraded:
        return FailureEffect(pause_host=False, charge_channel=False)  # the platform's, not its
    gone = status == 404 and is_gone(last_ok_at, now, degraded=degraded)
    return FailureEffect(pause_host=False, charge_channel=True, gone=gone)
