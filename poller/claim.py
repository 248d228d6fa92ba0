"""Claim channels for polling, atomically, so nobody enqueues one twice.

A claim is a lease: `claimed_until = now + lease`. Only unclaimed channels
(`claimed_until < now`) can be claimed, in one UPDATE … RETURNING, so two
schedulers, or a tick that fires while the last batch is still queued, split
the due channels between them instead of both sending them. A poll releases
its claim when it ends; a lost message's claim simply runs out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from peewee import Tuple

from .models import Channel, Host, db

BATCH = 1000  # claimed and sent together; a crash mid-fan-out strands at most this many


def claim(
    now: float,
    lease: float,
    *,
    due_only: bool = True,
    channel_ids: Sequence[int] | None = None,
    limit: int = BATCH,
) -> list[int]:
    """Claim up to `limit` channels and return their ids, most overdue first.

    See `claim_with_hosts`, which this is without the hosts.
    """
    rows = claim_with_hosts(now, lease, due_only=due_only, channel_ids=channel_ids, limit=limit)
    return [channel_id for channel_id, _, _ in rows]


def claim_with_hosts(
    now: float,
    lease: float,
    *,
    due_only: bool = True,
    channel_ids: Sequence[int] | None = None,
    limit: int = BATCH,
    skip_hosts: Collection[int] = (),
    ahead: float = 0.0,
    after: tuple[float, int] | None = None,
) -> list[tuple[int, int | None, float]]:
    """Claim up to `limit` channels; return (id, host id, due time), most overdue first.

    Channels of a paused host, or one whose probe is out, are not claimed:
    they stay due, charged nothing, until the host takes requests again
    (the channel of a host whose pause ended is claimed: it may be the probe).

    Args:
        now: the current time, epoch seconds.
        lease: how long the claim holds, seconds.
        due_only: claim only channels whose next poll is due; False claims
            every subscribed channel (a manual "poll all").
        channel_ids: restrict the claim to these channels.
        limit: the most channels to claim in one statement.
        skip_hosts: claim none of these hosts' channels (their budget is spent).
        ahead: with `due_only`, also claim channels due within this many
            seconds (the tick sends those with a delay to their due time).
        after: claim only channels after this (due time, id): the last row of
            the batch before, so that a tick's batches walk the index once
            instead of each rescanning the rows claimed before it.
    """
    if channel_ids is not None and not channel_ids:
        return []
    # `next_poll_at` is NULL for channels nobody subscribes to, or all subscribers paused.
    wanted = Channel.next_poll_at.is_null(False) & (Channel.claimed_until < now)
    if due_only:
        wanted &= Channel.next_poll_at <= now + ahead
    if channel_ids is not None:
        wanted &= Channel.id.in_(list(channel_ids))
    blocked = Host.select(Host.id).where(
        (Host.paused_until > now) | ((Host.paused_until <= now) & (Host.probe_until >= now))
    )
    # NULL NOT IN (…) is NULL, not true: a channel without a host is spelled out.
    wanted &= Channel.host.is_null() | Channel.host.not_in(blocked)
    if skip_hosts:
        wanted &= Channel.host.is_null() | Channel.host.not_in(sorted(skip_hosts))
    if after is not None:
        wanted &= Tuple(Channel.next_poll_at, Channel.id) > Tuple(*after)
    candidates = (
        Channel.select(Channel.id)
        .where(wanted)
        .order_by(Channel.next_poll_at, Channel.id)
        .limit(limit)
    )
    if _is_postgres():
        # Concurrent claimers skip each other's rows instead of queueing on them.
        candidates = candidates.for_update(skip_locked=True)
    query = (
        Channel.update(claimed_until=now + lease)
        .where(Channel.id.in_(candidates) & (Channel.claimed_until < now))
        .returning(Channel.id, Channel.host, Channel.next_poll_at)
    )
    with db.atomic():
        rows = sorted(query.tuples().execute(), key=lambda row: (row[2], row[0]))
    return rows


def release(channel_ids: Sequence[int]) -> None:
    """Drop the claims on channels whose messages could not be sent."""
    if channel_ids:
        Channel.update(claimed_until=0).where(Channel.id.in_(list(channel_ids))).execute()


def _is_postgres() -> bool:
    return db.obj is not None and "postgres" in type(db.obj).__name__.lower()
