"""Small helpers the tests share: query counting, subscribing, table counts."""

from __future__ import annotations

import time

from poller import config, subscriptions
from poller.bench.querycount import count_queries
from poller.models import Channel, Event, User, UserVideoRef, Video

__all__ = ["count_queries", "counts", "make_user", "subscribe"]


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
