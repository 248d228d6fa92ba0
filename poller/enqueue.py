"""Send polls: claim channels and send one poll message each (tick and manual polls).

Every poll spends from its host's budget (`poller.hosts`), reserved here, where
polls are scheduled: one UPDATE per host per batch reserves the slots of all
its claimed channels, and each message is sent with a Dramatiq delay to its
slot. A host is claimed no further than its budget allows within a tick; the
rest of its channels stay due. A paused host's channels are not claimed at
all; when its pause ends, one channel is sent as the probe.

The tick also claims the channels due before the next tick (AHEAD_S) and
sends each with a delay to its due time or its slot, whichever is later, so
a 300 s interval is 300 s, not the next minute after it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dramatiq.errors import BrokerError

from . import host_store, hosts
from .claim import BATCH, claim_with_hosts, release
from .config import Settings
from .host_links import rate_of
from .models import Host
from .publish import one_write

log = logging.getLogger(__name__)

# A slot this close is sent at once: Dramatiq's delay queue is no more precise
# than this, and a poll takes longer anyway (a budget of 1000/s is no budget).
SEND_NOW_MS = 50

# A tick claims channels due up to its next one (periodiq's cron is a minute).
AHEAD_S = 60.0
# The longest delay a tick sends: a due time up to AHEAD_S ahead, or a slot
# within the minute `hosts.tick_allowance` grants. The claim's lease is
# lengthened by it, so it still covers the poll after the delay.
MAX_DELAY_S = max(AHEAD_S, hosts.TICK_HORIZON)


def enqueue_polls(
    poll_actor: Any,
    now: float,
    settings: Settings,
    *,
    due_only: bool = True,
    channel_ids: Sequence[int] | None = None,
) -> int:
    """Claim channels batch by batch and send a poll message for each, within budget.

    Claiming and sending in batches bounds what a crash strands: at most one
    batch waits for its lease to run out. A batch's messages go to RabbitMQ in
    one write (`publish.one_write`); when the broker refuses it, the batch's
    channels are released at once for the next tick.

    Returns:
        How many poll messages were sent.
    """
    budget = _Budget(now, settings)
    sent = 0
    after: tuple[float, int] | None = None  # the last row claimed: the next batch starts past it
    while True:
        rows = claim_with_hosts(
            now,
            settings.claim_lease + MAX_DELAY_S,
            due_only=due_only,
            channel_ids=channel_ids,
            limit=BATCH,
            skip_hosts=budget.exhausted,
            ahead=AHEAD_S if due_only else 0.0,
            after=after,
        )
        if rows:
            after = (rows[-1][2], rows[-1][0])
        if not due_only:  # a manual poll or a push: now, whenever the channel is due
            rows = [(channel_id, host_id, now) for channel_id, host_id, _ in rows]
        sends = budget.grant(rows)
        written, batched = 0, False
        try:
            with one_write(getattr(poll_actor, "broker", None)) as batched:
                for channel_id, delay, probe in sends:
                    _send(poll_actor, channel_id, delay, probe)
                    written += 1
        except BrokerError as exc:
            # A batch written at its end may have reached RabbitMQ in part, and
            # which part is unknown: all of it is released. A message that did
            # arrive is polled, perhaps once more by the next tick; none is lost.
            release([c for c, _, _ in (sends if batched else sends[written:])])
            log.warning(
                "tick: broker refused a send after %d messages: %s", sent + written, exc
            )
            raise
        sent += len(sends)
        if len(rows) < BATCH:
            break
    return sent


def _send(poll_actor: Any, channel_id: int, delay: int, probe: str | None) -> None:
    delay = 0 if delay < SEND_NOW_MS else delay
    if not delay and probe is None:
        poll_actor.send(channel_id)
        return
    kwargs = {"probe": probe} if probe else {}
    poll_actor.send_with_options(args=(channel_id,), kwargs=kwargs, delay=delay or None)


class _Budget:
    """The hosts' budgets for one round of sends: who may go, and when."""

    def __init__(self, now: float, settings: Settings) -> None:
        self.now = now
        self.settings = settings
        query: Any = Host.select(
            Host.id, Host.name, Host.next_slot_at, Host.paused_until, Host.probe_until
        )
        self.hosts = {row[0]: row[1:] for row in query.tuples()}
        self.granted: dict[int, int] = {}
        self.exhausted: set[int] = set()
        self.due: dict[int, float] = {}

    def grant(self, rows: list[tuple[int, int | None, float]]) -> list[tuple[int, int, str | None]]:
        """Reserve slots for claimed channels; release the rest; return (id, delay ms, probe).

        `rows` come earliest due first, so the earliest slots go to them; each
        message waits for its due time or its slot, whichever is later.
        """
        by_host: dict[int | None, list[int]] = {}
        self.due = {channel_id: due for channel_id, _, due in rows}
        for channel_id, host_id, _ in rows:
            by_host.setdefault(host_id, []).append(channel_id)
        sends: list[tuple[int, int, str | None]] = []
        for host_id, ids in by_host.items():
            if host_id is None or host_id not in self.hosts:
                # Not linked: unbudgeted, sent at its due time.
                sends += [(c, hosts.delay_ms(self.due[c], self.now), None) for c in ids]
                continue
            sends += self._grant_host(host_id, ids)
        return sends

    def _grant_host(self, host_id: int, ids: list[int]) -> list[tuple[int, int, str | None]]:
        name, next_slot_at, paused_until, probe_until = self.hosts[host_id]
        rate = rate_of(name, self.settings)
        allow = hosts.tick_allowance(next_slot_at, paused_until, probe_until, self.now, rate)
        allow -= self.granted.get(host_id, 0)
        keep = ids[: max(0, allow)]
        reservation = host_store.reserve(name, len(keep), rate, self.now) if keep else None
        granted = len(reservation.slots) if reservation else 0
        if granted < len(ids):
            release(ids[granted:])
            self.exhausted.add(host_id)
        if reservation is None or not granted:
            return []
        self.granted[host_id] = self.granted.get(host_id, 0) + granted
        probe = reservation.token if reservation.probe else None
        if probe:
            log.info("host %s: its pause ended; channel %s is the probe", name, keep[0])
        return [
            (channel_id, hosts.delay_ms(max(slot, self.due[channel_id]), self.now), probe)
            for channel_id, slot in zip(keep, reservation.slots, strict=False)
        ]
