"""The host rows: budget reservations, pauses, probes and the degraded flag.

The database is where every worker, on any machine, meets: one UPDATE …
RETURNING on the host's row reserves its slots, so two processes never get
the same slot; the row's lock orders them (SQLite's write lock, PostgreSQL's
row lock, under which PostgreSQL re-evaluates the SET on the latest row).
Each function runs a fixed number of queries, whatever it is asked for. The
rules are in `poller.hosts`; this module only stores them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import cast

from peewee import Case, PostgresqlDatabase, fn

from . import host_signals, hosts
from .models import Channel, Host, db


@dataclass(frozen=True)
class HostState:
    """One host as the health check and `tubepoller host list` show it."""

    name: str
    next_slot_at: float
    paused_until: float | None
    pause_reason: str | None
    pause_level: int
    probe_until: float | None
    degraded_since: float | None

    def state(self, now: float) -> str:
        """Return "open", "paused", "probe_free" or "probing" at `now`."""
        return hosts.probe_state(self.paused_until, self.probe_until, now)

    def as_dict(self, now: float) -> dict:
        """Return the host for JSON, with `paused` and `degraded` spelled out."""
        return {
            **asdict(self),
            "paused": self.state(now) in ("paused", "probing"),
            "degraded": self.degraded_since is not None,
        }


_STATE_FIELDS = (
    Host.name,
    Host.next_slot_at,
    Host.paused_until,
    Host.pause_reason,
    Host.pause_level,
    Host.probe_until,
    Host.degraded_since,
)


def ensure_hosts(names: Iterable[str], now: float) -> dict[str, int]:
    """Create the hosts that have no row yet; return every name's id (2 queries)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    with db.atomic():
        Host.insert_many(
            [{"name": n, "created_at": now} for n in wanted]
        ).on_conflict_ignore().execute()
        rows = Host.select(Host.id, Host.name).where(Host.name.in_(wanted))
        return {row.name: row.id for row in rows}


def ensure_host(name: str, now: float) -> int:
    """Create the host if it has no row yet; return its id (2 queries)."""
    return ensure_hosts([name], now)[name]


def reserve(
    name: str,
    n: int,
    rate: float,
    now: float,
    *,
    probe_lease: float = hosts.PROBE_LEASE,
) -> hosts.Reservation:
    """Reserve `n` request slots at `rate` per second on one host, atomically.

    One UPDATE … RETURNING (two more, once, if the host has no row yet):
    - the host is not paused: `n` slots 1/rate apart, from now or from the
      host's next free slot, whichever is later;
    - its pause ended and nobody probes: the caller gets the probe, one slot;
    - it is paused, or another caller probes: nothing, and when to ask again.

    Args:
        name: the host's `hosts.host_key`.
        n: how many requests (the tick: one per claimed channel of the host).
        rate: the host's requests per second (`hosts.default_rate`).
        now: the current time.
        probe_lease: how long a probe may take before another caller may probe.
    """
    if n < 1:
        return hosts.Reservation(())
    token = uuid.uuid4().hex
    row = _reserve(name, n, 1.0 / rate, now, probe_lease, token)
    if row is None:
        ensure_host(name, now)
        row = _reserve(name, n, 1.0 / rate, now, probe_lease, token)
        assert row is not None  # just created
    return hosts.read_reservation(row, n, rate, token)


def _reserve(
    name: str, n: int, interval: float, now: float, lease: float, token: str
) -> tuple[float, float | None, float | None, str | None] | None:
    start = Case(None, [(Host.next_slot_at > now, Host.next_slot_at)], now)
    is_open = Host.paused_until.is_null()
    # NULL <= now is NULL, not true: an open host never takes this branch.
    probe_free = (Host.paused_until <= now) & (
        Host.probe_until.is_null() | (Host.probe_until < now)
    )
    query = (
        Host.update(
            next_slot_at=Case(
                None,
                [(is_open, start + n * interval), (probe_free, start + interval)],
                Host.next_slot_at,
            ),
            probe_until=Case(None, [(probe_free, now + lease)], Host.probe_until),
            probe_token=Case(None, [(probe_free, token)], Host.probe_token),
        )
        .where(Host.name == name)
        .returning(Host.next_slot_at, Host.paused_until, Host.probe_until, Host.probe_token)
    )
    rows = list(query.tuples().execute())
    return rows[0] if rows else None


def pause(
    name: str, now: float, reason: str, base: float, retry_after: float | None = None
) -> HostState:
    """Pause a host after a bot check, a 429 or a burst of 403s (3 queries).

    Idempotent while a pause lasts (every worker may report the same bot
    check); after a pause ended, the next pausing answer (the probe's) doubles
    it. See `hosts.next_pause`.

    Args:
        name: the host.
        now: the current time.
        reason: one line shown to the user ("bot_check: Sign in to confirm …").
        base: TUBEPOLLER_HOST_PAUSE, seconds.
        retry_after: the answer's Retry-After, seconds.
    """
    with db.atomic():
        Host.insert(name=name, created_at=now).on_conflict_ignore().execute()
        query = Host.select(Host.paused_until, Host.pause_level).where(Host.name == name)
        if isinstance(db.obj, PostgresqlDatabase):
            query = query.for_update()  # SQLite's IMMEDIATE transaction already holds the lock
        current = query.get()
        until, level = hosts.next_pause(
            current.paused_until, current.pause_level, now, base, retry_after
        )
        rows = (
            Host.update(
                paused_until=until,
                pause_level=level,
                pause_reason=reason[:500],
                probe_until=None,
                probe_token=None,
            )
            .where(Host.name == name)
            .returning(*_STATE_FIELDS)
            .tuples()
            .execute()
        )
        return HostState(*list(rows)[0])


def clear_pause(name: str, token: str) -> bool:
    """End a host's pause after its probe succeeded; False if `token` is not the probe's.

    Only the probe's success ends it: an answer to a request sent before the
    pause began says nothing about the host now. One query.
    """
    query = (
        Host.update(
            paused_until=None,
            pause_reason=None,
            pause_level=0,
            probe_until=None,
            probe_token=None,
            forbidden_count=0,
            forbidden_since=None,
        )
        .where((Host.name == name) & (Host.probe_token == token))
        .returning(Host.id)
    )
    return bool(list(query.execute()))


def release_probe(name: str, token: str) -> bool:
    """Give the probe back when it told nothing (a timeout): the next caller probes."""
    query = (
        Host.update(probe_until=None, probe_token=None)
        .where((Host.name == name) & (Host.probe_token == token))
        .returning(Host.id)
    )
    return bool(list(query.execute()))


def record_forbidden(name: str, now: float, window: float = host_signals.FORBIDDEN_WINDOW) -> int:
    """Count a 403 from the host; return the 403s in the current window (1 query).

    See `host_signals.forbidden_window`; `host_signals.is_forbidden_burst` says when to pause.
    """
    in_window = Host.forbidden_since.is_null(False) & (Host.forbidden_since >= now - window)
    query = (
        Host.update(
            forbidden_count=Case(None, [(in_window, Host.forbidden_count + 1)], 1),
            forbidden_since=Case(None, [(in_window, Host.forbidden_since)], now),
        )
        .where(Host.name == name)
        .returning(Host.forbidden_count)
    )
    rows = list(query.tuples().execute())
    return rows[0][0] if rows else 0


def mark_degraded(name: str, now: float) -> None:
    """Mark the host degraded, keeping the time it first was (1 query)."""
    Host.update(degraded_since=fn.COALESCE(Host.degraded_since, now)).where(
        Host.name == name
    ).execute()


def clear_degraded(name: str) -> None:
    """Clear the host's degraded flag (1 query)."""
    Host.update(degraded_since=None).where(Host.name == name).execute()


def refresh_shares() -> None:
    """Count each host's polled channels and add up their weights (1 query).

    The tick runs it once before it claims; a poll reads the two numbers
    with its channel (`reads.load`) to split the budget (`poller.cadence`).
    """
    polled = Channel.next_poll_at.is_null(False) & (Channel.host == Host.id)
    count = Channel.select(fn.COUNT(Channel.id)).where(polled)
    weights = Channel.select(fn.COALESCE(fn.SUM(Channel.poll_weight), 0)).where(polled)
    Host.update(polled_channels=count, weight_sum=weights).execute()


def list_hosts(names: Iterable[str] | None = None) -> list[HostState]:
    """Return the hosts (or only those named), by name (1 query)."""
    query = Host.select(*_STATE_FIELDS).order_by(Host.name)
    if names is not None:
        query = query.where(Host.name.in_(sorted(set(names))))
    return [HostState(*row) for row in cast(Iterable[tuple], query.tuples())]
