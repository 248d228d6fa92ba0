"""Write notification targets and their deliveries.

Deliveries are queued with one INSERT … SELECT from the events just written,
inside the writer's transaction, so a poll or a download costs the same
queries whatever the number of subscribers and targets; the caller sends
the returned ids to the `notify` queue after its commit. A delivery is
unique per (target, event): queuing it again changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, cast

from peewee import JOIN, Value

from .errors import NotFound
from .models import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    Channel,
    Delivery,
    Event,
    NotificationTarget,
    User,
    Video,
    db,
)
from .notices import TEST, Notice

RESEND_AFTER = (
    900.0  # a pending delivery untouched this long lost its message (retries wait ≤ 5 min)
)


def add_target(user: User, url: str, events: list[str], now: float) -> NotificationTarget:
    """Store a checked target (see `notify.check_target`) for `user`."""
    return NotificationTarget.create(
        user=user.id, url=url, events=json.dumps(events), created_at=now
    )


def target_of(user: User, target_id: int) -> NotificationTarget:
    """Return one of `user`'s targets.

    Raises:
        NotFound: no such target, or another user's.
    """
    target = NotificationTarget.get_or_none(
        (NotificationTarget.id == target_id) & (NotificationTarget.user == user.id)
    )
    if target is None:
        raise NotFound(f"no notification target {target_id}")
    return target


def remove_target(user: User, target_id: int) -> None:
    """Delete one of `user`'s targets and its deliveries.

    Raises:
        NotFound: no such target, or another user's.
    """
    deleted = (
        NotificationTarget.delete()
        .where((NotificationTarget.id == target_id) & (NotificationTarget.user == user.id))
        .execute()
    )
    if not deleted:
        raise NotFound(f"no notification target {target_id}")


def queue(kind: str, where: Any, now: float) -> list[int]:
    """Queue one delivery per event of `kind` matching `where` and target wanting it.

    One statement. Run it in the transaction that wrote the events; send the
    ids returned after the commit.
    """
    rows = (
        Event.select(
            NotificationTarget.id,
            Event.id,
            Value(kind),
            Value(DELIVERY_PENDING),
            Value(0),
            Value(now),
            Value(now),
            Value(0),
        )
        .join(NotificationTarget, on=(NotificationTarget.user == Event.user))
        .where((Event.kind == kind) & where & NotificationTarget.events.contains(f'"{kind}"'))
    )
    query = (
        Delivery.insert_from(
            rows,
            [
                Delivery.target,
                Delivery.event,
                Delivery.kind,
                Delivery.status,
                Delivery.attempts,
                Delivery.created_at,
                Delivery.updated_at,
                Delivery.claimed_until,
            ],
        )
        .on_conflict_ignore()
        .returning(Delivery.id)
    )
    return [row.id for row in query.execute()]


def queue_test(target: NotificationTarget, now: float) -> int:
    """Queue a test message to a target; return its delivery's id."""
    return Delivery.create(
        target=target.id, event=None, kind=TEST, created_at=now, updated_at=now
    ).id


def claim(delivery_id: int, now: float, lease: float) -> tuple[str, Notice] | None:
    """Take a pending delivery for one attempt; return its target URL and what it says.

    None when it is sent or given up already, or another worker holds it.
    """
    with db.atomic():
        taken = (
            Delivery.update(
                attempts=Delivery.attempts + 1, claimed_until=now + lease, updated_at=now
            )
            .where(
                (Delivery.id == delivery_id)
                & (Delivery.status == DELIVERY_PENDING)
                & (Delivery.claimed_until < now)
            )
            .execute()
        )
        if not taken:
            return None
        row: dict[str, Any] = cast(
            dict,
            Delivery.select(
                Delivery.kind,
                NotificationTarget.url.alias("target_url"),
                Event.payload.alias("payload"),
                Video.title.alias("video_title"),
                Video.url.alias("video_url"),
                Video.published_at.alias("published_at"),
                Channel.title.alias("channel_title"),
                Channel.feed_url.alias("channel_url"),
            )
            .join(NotificationTarget)
            .switch(Delivery)
            .join(Event, JOIN.LEFT_OUTER)
            .join(Video, JOIN.LEFT_OUTER)
            .switch(Event)
            .join(Channel, JOIN.LEFT_OUTER)
            .where(Delivery.id == delivery_id)
            .dicts()
            .get(),
        )
    notice = Notice(
        kind=row["kind"],
        channel_title=row["channel_title"] or "",
        channel_url=row["channel_url"] or "",
        video_title=row["video_title"] or "",
        video_url=row["video_url"] or "",
        published_at=row["published_at"],
        payload=json.loads(row["payload"] or "{}"),
    )
    return row["target_url"], notice


def record(delivery_id: int, now: float, reason: str | None, *, final: bool = False) -> None:
    """Record an attempt: sent (no reason), to be retried, or given up (`final`)."""
    if reason is None:
        fields: dict[Any, Any] = {
            Delivery.status: DELIVERY_SENT,
            Delivery.sent_at: now,
            Delivery.reason: None,
        }
    else:
        fields = {
            Delivery.status: DELIVERY_FAILED if final else DELIVERY_PENDING,
            Delivery.reason: reason[:1000],
        }
    fields.update({Delivery.updated_at: now, Delivery.claimed_until: 0})
    Delivery.update(fields).where(Delivery.id == delivery_id).execute()


def stuck(now: float, limit: int = 500) -> list[int]:
    """Return pending deliveries whose message was lost, touching them so each is re-sent once."""
    with db.atomic():
        ids = [
            d.id
            for d in Delivery.select(Delivery.id)
            .where(
                (Delivery.status == DELIVERY_PENDING)
                & (Delivery.updated_at < now - RESEND_AFTER)
                & (Delivery.claimed_until < now)
            )
            .limit(limit)
        ]
        if ids:
            Delivery.update(updated_at=now).where(Delivery.id.in_(ids)).execute()
    return ids


def hand_to_sweep(delivery_ids: list[int], now: float) -> None:
    """Date pending deliveries back so the next tick's sweep sends them (no worker reachable)."""
    if delivery_ids:
        Delivery.update(updated_at=now - RESEND_AFTER - 1).where(
            Delivery.id.in_(delivery_ids) & (Delivery.status == DELIVERY_PENDING)
        ).execute()
