"""Notification targets as their owners see them, each with its last deliveries."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from peewee import fn

from .. import notify
from ..models import Delivery, NotificationTarget, User
from .shapes import iso

LAST_DELIVERIES = 5  # per target, newest first


def notification_targets(user: User | None) -> list[dict[str, Any]]:
    """Return a user's targets (None: everyone's) with their last deliveries.

    Two queries whatever the number of targets: the targets, then the last
    deliveries of them all, numbered per target by a window function.
    """
    query = NotificationTarget.select(NotificationTarget, User.name).join(User)
    if user is not None:
        query = query.where(NotificationTarget.user == user.id)
    targets = list(query.order_by(NotificationTarget.id))
    recent: dict[int, list[dict[str, Any]]] = {t.id: [] for t in targets}
    if targets:
        rank = fn.ROW_NUMBER().over(partition_by=[Delivery.target], order_by=[Delivery.id.desc()])
        numbered = (
            Delivery.select(Delivery, rank.alias("rank"))
            .where(Delivery.target.in_(list(recent)))
            .alias("numbered")
        )
        columns = [getattr(numbered.c, f.column_name) for f in Delivery._meta.sorted_fields]
        rows = (
            Delivery.select(*columns)
            .from_(numbered)
            .where(numbered.c.rank <= LAST_DELIVERIES)
            .order_by(numbered.c.id.desc())
            .dicts()
        )
        for row in cast(Iterable[dict[str, Any]], rows):
            recent[row["target_id"]].append(delivery_json(row))
    return [target_json(t, recent[t.id]) for t in targets]


def target_json(target: Any, deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a target with its URL masked and its last deliveries."""
    shown, name = notify.describe(target.url)
    return {
        "id": target.id,
        "user": target.user.name,
        "url": shown,
        "service": name,
        "events": json.loads(target.events or "[]"),
        "created_at": iso(target.created_at),
        "deliveries": deliveries,
    }


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    """Return one delivery (a row of its columns): what it was about, how it went, why."""
    return {
        "id": row["id"],
        "event": row["kind"],
        "event_id": row["event_id"],
        "status": row["status"],
        "attempts": row["attempts"],
        "reason": row["reason"],
        "created_at": iso(row["created_at"]),
        "sent_at": iso(row["sent_at"]),
    }
