"""A channel's poll history and everything else known about it, as readers see them."""

from __future__ import annotations

from typing import Any

from peewee import JOIN

from ..errors import NotFound
from ..models import POLL_HISTORY, Channel, Host, PollRecord, Subscription, User
from .channels import channel_query
from .shapes import channel_json, iso


def channel_polls(
    user: User | None, channel_id: int, *, limit: int = POLL_HISTORY
) -> list[dict[str, Any]]:
    """Return a channel's last polls, newest first (one query past the check).

    Args:
        user: the reader, who must subscribe to it; None: any channel (the CLI).
        limit: at most this many (the history keeps POLL_HISTORY).

    Raises:
        NotFound: no such channel, or the user does not subscribe to it.
    """
    if user is None:
        found = Channel.select(Channel.id).where(Channel.id == channel_id).exists()
    else:
        found = (
            Subscription.select()
            .where((Subscription.user == user.id) & (Subscription.channel == channel_id))
            .exists()
        )
    if not found:
        raise NotFound(f"channel {channel_id} not found")
    rows = (
        PollRecord.select()
        .where(PollRecord.channel == channel_id)
        .order_by(PollRecord.seq.desc())
        .limit(min(limit, POLL_HISTORY))
    )
    return [poll_json(row) for row in rows]


def poll_json(row: Any) -> dict[str, Any]:
    """Return one poll of a channel's history."""
    return {
        "seq": row.seq,
        "polled_at": iso(row.polled_at),
        "outcome": row.outcome,
        "http_status": row.http_status,
        "duration_ms": round(row.duration_s * 1000),
        "new_videos": row.new_videos,
        "backfill": row.backfill,
        "error": row.error,
    }


def channel_detail(channel_id: int) -> dict[str, Any]:
    """Return everything known about a channel, for `tubepoller channel show`.

    Its listing shape, with its health, host, subscribers and last polls.

    Raises:
        NotFound: no such channel.
    """
    row = channel_query(None).where(Channel.id == channel_id).first()
    if row is None:
        raise NotFound(f"channel {channel_id} not found")
    shape = channel_json(row)
    for mine in ("mode", "subscribed_at", "subscription_paused"):  # a reader's; there is none
        del shape[mine]
    host = Host.get_or_none(Host.id == row.host_id) if row.host_id is not None else None
    subscribers = (
        Subscription.select(Subscription, User.name)
        .join(User, JOIN.INNER)
        .where(Subscription.channel == channel_id)
        .order_by(User.name)
    )
    return {
        **shape,
        "health": health(shape),
        "host": host.name if host else None,
        "warning": row.warning,
        "subscriptions": [
            {
                "user": sub.user.name,
                "mode": sub.mode,
                "subscribed_at": iso(sub.created_at),
                "paused": sub.paused_at is not None,
            }
            for sub in subscribers
        ],
        "polls": channel_polls(None, channel_id),
    }


def health(channel: dict[str, Any]) -> str:
    """Return a channel's health in a word: ok, failing, paused, host_paused or unsubscribed."""
    if channel["polls_paused"]:
        return "paused"
    if channel["next_poll_at"] is None:
        return "unsubscribed"
    if channel["paused"]:
        return "host_paused"
    return "failing" if channel["consecutive_failures"] else "ok"
