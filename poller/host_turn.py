"""A listing's or a download's turn at its host: one slot of the budget, the pause, the probe.

Catalog listings and downloads are rare beside polls, so each reserves its own
slot (one UPDATE … RETURNING) when it runs instead of at the tick: `turn`
waits for a near slot, and refuses with `HostBusy` (a transient error with a
Retry-After) while the host is paused or its slot is far. Inside the turn,
yt-dlp gets sleep options that keep its own requests within the budget, and
cookies only when the host asked for a sign-in. What yt-dlp met is reported
like a poll's answer: a bot check or a 429 pauses the host for every worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import host_signals, host_store, hosts
from .config import Settings
from .errors import PollError, TransientError
from .host_links import rate_of
from .kinds import MEMBERS_ONLY

log = logging.getLogger(__name__)

# A slot further out is not waited for in a worker thread. Beyond the tick's
# horizon (`hosts.slots_within`, 60 s), which reserves a host's next minute for
# polls: a listing or download then always finds a slot, never starves behind
# them. A poll's time limit has room for it beside yt-dlp's own timeout.
MAX_INLINE_WAIT = 65.0


class HostBusy(TransientError):
    """Raised when a host takes no request now (paused, probed, or its budget spent)."""


@contextmanager
def turn(
    url: str,
    settings: Settings,
    *,
    download: bool = False,
    members_only: bool = False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[list[str]]:
    """Take one slot of `url`'s host; yield the yt-dlp options for the request.

    The cookies file goes with the request only when it needs an account:
    after a bot check on the host, or for a members-only video.

    Raises:
        HostBusy: the host is paused (until its `retry_after_s`), or its next
            slot is more than MAX_INLINE_WAIT away; also raised in place of a
            yt-dlp error that paused the host.
    """
    name = hosts.host_key(url)
    rate = rate_of(name, settings)
    now = clock()
    known = host_store.list_hosts([name])
    reason = known[0].pause_reason if known else None
    reservation = host_store.reserve(name, 1, rate, now)
    if not reservation.slots:
        wait = (reservation.blocked_until or now) - now
        raise HostBusy(f"host {name} is paused ({reason})", retry_after_s=max(wait, 1.0))
    wait = reservation.slots[0] - now
    if wait > MAX_INLINE_WAIT:
        raise HostBusy(f"host {name} is busy: its next slot is in {wait:.0f} s", wait)
    sleep(max(0.0, wait))
    probe = reservation.token if reservation.probe else None
    reasons = [reason.split(":", 1)[0]] if reason else []
    if members_only:
        reasons.append(MEMBERS_ONLY)
    args = hosts.ytdlp_sleep_args(rate, download=download)
    args += hosts.cookies_args(str(settings.cookies_file or "") or None, reasons)
    try:
        yield args
    except PollError as exc:
        _report_failure(name, str(exc), probe, clock(), settings)
        raise
    if probe and host_store.clear_pause(name, probe):
        log.info("host %s: the probe succeeded, its pause ended", name)


def _report_failure(
    name: str, error: str, probe: str | None, now: float, settings: Settings
) -> None:
    kind = host_signals.classify(error=error)
    if kind == host_signals.FORBIDDEN:
        burst = host_signals.is_forbidden_burst(host_store.record_forbidden(name, now))
        kind = kind if burst else host_signals.ORDINARY
    if kind in host_signals.PAUSING or kind == host_signals.FORBIDDEN:
        state = host_store.pause(name, now, f"{kind}: {error}", settings.host_pause)
        log.warning("host %s paused until %.0f (%s, yt-dlp)", name, state.paused_until, kind)
        wait = (state.paused_until or now) - now
        raise HostBusy(f"host {name} paused: {error}", retry_after_s=wait)
    if probe:
        host_store.release_probe(name, probe)
