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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from dramatiq.brokers.rabbitmq import RabbitmqBroker
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

    Claiming and sending in batches bounds what a crash strands: at most the
    batch being sent and the one being claimed wait for their leases to run
    out. A batch's messages go to RabbitMQ in one write (`publish.one_write`);
    when the broker refuses it, its channels, and the next batch's, are
    released at once for the next tick.

    When more than one batch is due, each batch is sent from a thread of its
    own while this one claims the next: the claim waits on the database and
    the send on Python and the socket, so the two overlap (a 100,000-channel
    tick on PostgreSQL: the claim's time, not the claim's plus the sends').

    Returns:
        How many poll messages were sent.
    """
    budget = _Budget(now, settings)
    after: tuple[float, int] | None = None  # the last row claimed: the next batch starts past it

    def claimed() -> tuple[list[tuple[int, int, str | None]], bool]:
        nonlocal after
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
        return budget.grant(rows), len(rows) == BATCH

    sends, more = claimed()
    if not more:  # one batch: sent here, as every manual poll and small install's tick
        return _sent(lambda: _send_batch(poll_actor, sends))
    sent = 0
    with _Sender(poll_actor) as sender:
        while True:
            sender.start(sends)
            if not more:
                return sent + _sent(sender.result)
            sends, more = claimed()  # while the last batch is sent
            sent += _sent(sender.result, also_release=sends)


def _sent(
    result: Callable[[], int], also_release: Sequence[tuple[int, int, str | None]] = ()
) -> int:
    """Return a batch's count of messages sent; if the broker refused it, release and raise.

    `also_release` is the next batch, claimed while this one was sent, which
    then goes unsent too.
    """
    try:
        return result()
    except _Refused as refused:
        release(refused.unsent + [channel_id for channel_id, _, _ in also_release])
        log.warning("tick: the broker refused a batch of polls: %s", refused.cause)
        raise refused.cause from None


def _send_batch(poll_actor: Any, sends: list[tuple[int, int, str | None]]) -> int:
    """Send one batch's messages in one write; return how many.

    Raises:
        _Refused: RabbitMQ refused the batch, with the channels to release.
            A batch written at its end may have reached RabbitMQ in part, and
            which part is unknown: all of it is released. A message that did
            arrive is polled, perhaps once more by the next tick; none is lost.
    """
    written, batched = 0, False
    try:
        with one_write(getattr(poll_actor, "broker", None)) as batched:
            for channel_id, delay, probe in sends:
                _send(poll_actor, channel_id, delay, probe)
                written += 1
    except BrokerError as exc:
        unsent = [c for c, _, _ in (sends if batched else sends[written:])]
        raise _Refused(exc, unsent) from exc
    return len(sends)


class _Refused(Exception):
    """The broker refused a batch: its `cause`, and the channels to release."""

    def __init__(self, cause: BrokerError, unsent: list[int]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.unsent = unsent


class _Sender:
    """A thread that sends one batch at a time while the tick's own thread claims the next."""

    def __init__(self, poll_actor: Any) -> None:
        self.poll_actor = poll_actor
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="tick-send")
        self.pending: Future[int] | None = None

    def start(self, sends: list[tuple[int, int, str | None]]) -> None:
        self.pending = self.pool.submit(_send_batch, self.poll_actor, sends)

    def result(self) -> int:
        """Wait for the batch being sent; return its count, or raise its `_Refused`."""
        pending, self.pending = self.pending, None
        assert pending is not None
        return pending.result()

    def __enter__(self) -> _Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        # Dramatiq opens a RabbitMQ connection per thread: this thread's closes with it.
        broker = getattr(self.poll_actor, "broker", None)
        if isinstance(broker, RabbitmqBroker):
            self.pool.submit(_close_connection, broker)
        self.pool.shutdown(wait=True)
        if self.pending is not None:
            # The claim failed while a batch was sent: if that was refused too, free it now.
            failure = self.pending.exception()
            if isinstance(failure, _Refused):
                release(failure.unsent)


def _close_connection(broker: RabbitmqBroker) -> None:
    del broker.connection


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
