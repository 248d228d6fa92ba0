"""The `queries` scenario: SQL statements per poll, counted from peewee's log.

A poll's statement count must not grow with the new videos it finds or the
subscribers it notifies.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

from .channels import populate
from .report import metric
from .world import open_world

# Transaction control is not a query the poll chose to make.
_NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")


def _podcast(count: int) -> bytes:
    items = "".join(
        f"<item><guid>ep-{i}</guid><title>Episode {i}</title>"
        f'<enclosure url="http://127.0.0.1/ep-{i}.mp3" type="audio/mpeg"/>'
        f"<pubDate>Tue, 26 Nov 2030 10:00:{i % 60:02d} GMT</pubDate></item>"
        for i in range(count)
    )
    return f'<rss version="2.0"><channel><title>Pod</title>{items}</channel></rss>'.encode()


def _counting() -> tuple[list[str], Callable[[], None]]:
    """Count the SQL statements peewee logs (transaction control excluded)."""
    statements: list[str] = []

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sql = record.msg[0] if isinstance(record.msg, tuple) else str(record.msg)
            if not sql.lstrip().upper().startswith(_NOT_COUNTED):
                statements.append(sql)

    logger = logging.getLogger("peewee")
    handler, level, propagate = Counter(logging.DEBUG), logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # count, do not print
    logger.addHandler(handler)

    def stop() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate

    return statements, stop


def _count_poll(channel_id: int, settings: Any) -> tuple[int, str, int]:
    """Poll one channel; return (statements, outcome, new videos)."""
    from .. import pipeline

    statements, stop = _counting()
    try:
        result = pipeline.poll_channel(channel_id, time.time(), settings)
    finally:
        stop()
    return len(statements), result.outcome, len(result.new_video_ids)


def scenario_queries(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    from .. import subscriptions

    with open_world(args, channels=1, uploads=3, validators=False) as world:
        settings = world.settings
        (channel,) = populate(world, 1)
        unchanged, outcome, _ = _count_poll(channel, settings)
        assert outcome == "unchanged", outcome
        world.feeds.control("set", validators=1)
        _count_poll(channel, settings)  # stores the ETag
        not_modified, outcome, _ = _count_poll(channel, settings)
        assert outcome == "not_modified", outcome
        rows = [
            metric("per unchanged poll (200, scanned)", unchanged, "", "<= 3", unchanged <= 3),
            metric("per 304 poll", not_modified, "", "<= 3", not_modified <= 3),
        ]
        per_scale = {}
        for videos, subscribers in ((1, 1), (10, 15), (100, 15)):
            name = f"pod{videos}x{subscribers}"
            url = world.feeds.control("raw", _podcast(1), name=name)["url"]
            now = time.time()
            users = [subscriptions.add_user(f"{name}-{i}", now)[0] for i in range(subscribers)]
            feed = [
                subscriptions.subscribe(user, url, "future_only", now, settings).channel
                for user in users
            ][-1]
            _count_poll(feed.id, settings)  # the first poll catalogs episode 0
            world.feeds.control("raw", _podcast(1 + videos), name=name)
            count, outcome, new = _count_poll(feed.id, settings)
            assert new == videos, (outcome, new)
            per_scale[(videos, subscribers)] = count
        constant = len(set(per_scale.values())) == 1
        for (videos, subscribers), count in per_scale.items():
            rows.append(
                metric(
                    f"with V={videos} new, S={subscribers} subscribers",
                    count,
                    "",
                    "same at every scale",
                    constant,
                )
            )
        return {
            "scenario": "queries",
            "metrics": rows,
            "values": {
                "unchanged": unchanged,
                "not_modified": not_modified,
                "new": {f"{v},{s_}": c for (v, s_), c in per_scale.items()},
            },
        }
