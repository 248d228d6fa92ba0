"""Rows the tests make and count: a user, a subscription, the tables' sizes."""

from __future__ import annotations

import time

from poller import config, subscriptions
from poller.models import Channel, Event, User, UserVideoRef, Video


def make_user(name: str = "alice", admin: bool = False) -> User:
    user, _ = subscriptions.add_user(name, time.time(), admin=admin)
    return user


def subscribe(user: User, url: str, mode: str = "future_only", at: float | None = None) -> Channel:
    result = subscriptions.subscribe(user, url, mode, at or time.time(), config.get())
    return result.channel


def counts() -> dict[str, int]:
    return {
        "videos": Video.select().count(),
        "refs": UserVideoRef.select().count(),
        "events": Event.select().count(),
    }
