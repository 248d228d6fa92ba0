"""The `tubepoller notify` commands: add, list, remove and test notification targets."""

from __future__ import annotations

import argparse
import time

from . import config
from .commands import _open, _print, _user


def cmd_notify_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import only_user
    from .notify import add_target, shown_url

    _open(settings)
    user = _user(args) or only_user()
    target = add_target(user, args.url, args.events.split(","), time.time(), settings)
    print(
        f"notification target {target.id} for {user.name}: {shown_url(target.url)}"
        f" ({', '.join(_events(target.events))})"
    )
    return 0


def cmd_notify_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import notification_targets

    _open(settings)
    rows = notification_targets(_user(args))
    if not args.json:  # the table shows the last delivery beside the target
        rows = [{**row, **_last(row), "events": ",".join(row["events"])} for row in rows]
    columns = ["id", "user", "service", "events", "last", "last_at", "reason", "url"]
    _print(rows, columns, args.json)
    return 0


def cmd_notify_remove(args: argparse.Namespace, settings: config.Settings) -> int:
    from .listings import only_user
    from .notify import remove_target

    _open(settings)
    user = _user(args) or only_user()
    remove_target(user, args.target_id)
    print(f"removed notification target {args.target_id} of {user.name}")
    return 0


def cmd_notify_test(args: argparse.Namespace, settings: config.Settings) -> int:
    from .notify import send_test

    _open(settings)
    outcome = send_test(args.target_id, time.time(), settings)
    reason = f" ({outcome.reason})" if outcome.reason else ""
    print(f"target {args.target_id}: test message {outcome.status}{reason}")
    return 0 if outcome.status == "sent" else 1


def send_notices(settings: config.Settings, delivery_ids: list[int]) -> str:
    """Send the deliveries a poll queued, or leave them to the next tick; say which."""
    from dramatiq.errors import BrokerError

    from .notify_store import hand_to_sweep

    if settings.embedded_broker:  # `up`'s workers are out of reach: its next tick sends them
        hand_to_sweep(delivery_ids, time.time())
        return (
            f"{len(delivery_ids)} notifications queued; `tubepoller up` sends them at its next tick"
        )
    from .queues import Queues

    try:
        Queues.of_actors(settings).notify(delivery_ids)
    except BrokerError:
        hand_to_sweep(delivery_ids, time.time())
        return f"{len(delivery_ids)} notifications queued; the next tick sends them"
    return f"{len(delivery_ids)} notifications sent to the notify queue"


def _events(raw: str) -> list[str]:
    import json

    return list(json.loads(raw or "[]"))


def _last(row: dict) -> dict:
    last = row["deliveries"][0] if row["deliveries"] else {}
    return {
        "last": last and f"{last['event']} {last['status']}",
        "last_at": last.get("sent_at") or last.get("created_at"),
        "reason": last.get("reason"),
    }
