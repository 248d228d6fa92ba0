"""Claim channels for polling, atomically, so nobody enqueues one twice.

A claim is a lease: `claimed_until = now + lease`. Only unclaimed channels
(`claimed_until < now`) can be claimed, in one UPDATE … RETURNING, so two
schedulers, or a tick that fires while the last batch is still queued, split
the due channels between them instead of both sending them. A poll releases
its claim when it ends; a lost message's claim simply runs out.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import Channel, db

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

    Args:
        now: the current time, epoch seconds.
        lease: how long the claim holds, seconds.
        due_only: claim only channels whose next poll is due; False claims
            every subscribed channel (a manual "poll all").
        channel_ids: restrict the claim to these channels.
        limit: the most channels to claim in one statement.
    """
    if channel_ids is not None and not channel_ids:
        return []
    # `next_poll_at` is NULL for channels nobody subscribes to.
    wanted = Channel.next_poll_at.is_null(False) & (Channel.claimed_until < now)
    if due_only:
        wanted &= Channel.next_poll_at <= now
    if channel_ids is not None:
        wanted &= Channel.id.in_(list(channel_ids))
    candidates = (
        Channel.select(Channel.id).where(wanted).order_by(Channel.next_poll_at).limit(limit)
    )
    if _is_postgres():
        # Concurrent claimers skip each other's rows instead of queueing on them.
        candidates = candidates.for_update(skip_locked=True)
    query = (
        Channel.update(claimed_until=now + lease)
        .where(Channel.id.in_(candidates) & (Channel.claimed_until < now))
        .returning(Channel.id)
    )
    with db.atomic():
        return [row.id for row in query.execute()]


def release(channel_ids: Sequence[int]) -> None:
    """Drop the claims on channels whose messages could not be sent."""
    if channel_ids:
        Channel.update(claimed_until=0).where(Channel.id.in_(list(channel_ids))).execute()


def _is_postgres() -> bool:
    return db.obj is not None and "postgres" in type(db.obj).__name__.lower()
