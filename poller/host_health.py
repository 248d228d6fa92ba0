"""Which hosts are degraded: most of their feeds failing at once, as in a platform outage.

Once per tick, one aggregate over the channel table counts, per host, the
channels polled within `host_signals.DEGRADED_WINDOW` and those whose last
poll failed with an outage-type answer (404, 5xx, invalid XML); the hosts
whose share crosses `host_signals.is_degraded` are marked, the others
cleared. Nothing is added to a poll: the failure's kind is written with the
failure it already records.
"""

from __future__ import annotations

import logging
from typing import Any

from peewee import Case, fn

from . import host_signals, host_store
from .models import Channel, Host

log = logging.getLogger(__name__)


def refresh_degraded(now: float, window: float = host_signals.DEGRADED_WINDOW) -> list[str]:
    """Mark and clear the hosts' degraded flags; return those that changed.

    One query, and one more per host whose flag changes.
    """
    since = now - window
    recent = (Channel.last_polled_at >= since) | (Channel.last_error_at >= since)
    outage = (
        (Channel.last_outcome == "failed")
        & (Channel.last_failure_kind == host_signals.OUTAGE)
        & (Channel.last_error_at >= since)
    )
    query: Any = (
        Host.select(
            Host.name,
            Host.degraded_since,
            fn.COUNT(Channel.id),
            fn.SUM(Case(None, [(outage, 1)], 0)),
        )
        .join(Channel, on=(Channel.host == Host.id))
        .where(recent & Channel.next_poll_at.is_null(False))
        .group_by(Host.name, Host.degraded_since)
    )
    seen: dict[str, tuple[bool, int, int]] = {
        name: (since_ is not None, polled, int(failing or 0))
        for name, since_, polled, failing in query.tuples()
    }
    changed = []
    for name, (was, polled, failing) in seen.items():
        now_degraded = host_signals.is_degraded(polled, failing)
        if now_degraded and not was:
            host_store.mark_degraded(name, now)
            log.warning("host %s degraded: %d of %d recent polls failed", name, failing, polled)
            changed.append(name)
        elif was and not now_degraded:
            host_store.clear_degraded(name)
            log.info("host %s recovered: %d of %d recent polls failed", name, failing, polled)
            changed.append(name)
    # A degraded host with no recent poll at all keeps its flag until one comes.
    return changed
